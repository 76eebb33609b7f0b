import { type Kysely, sql } from "kysely";

/**
 * The alert evaluator's memory: one row per rule, whether it fires and since when. A
 * notification goes out only when `firing` flips (in the transaction that flips it), so a
 * restarted or newly elected evaluator does not page again for what was already sent.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("alert_states")
    .addColumn("rule", "text", (c) => c.primaryKey())
    .addColumn("firing", "boolean", (c) => c.notNull().defaultTo(false))
    // The last measured value (a count, a share, seconds: the rule says which).
    .addColumn("value", "float8", (c) => c.notNull().defaultTo(0))
    // When the current state (firing or not) began.
    .addColumn("since", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("last_notified_at", "timestamptz")
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("alert_states").ifExists().execute();
}
