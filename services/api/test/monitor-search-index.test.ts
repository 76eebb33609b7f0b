import { createHash } from "node:crypto";
import {
  createDatabase,
  type Database,
  type DatabaseHandle,
  type Kysely,
  type KyselyPlugin,
  migrateDown,
  migrateUp,
  migrationStatus,
  sql,
} from "@taskflow/db";
import { createTestDatabase, engineAvailable } from "@taskflow/testing";
import { afterAll, describe, expect, it } from "vitest";
import { createMonitorRepository } from "../src/modules/monitor/monitor.repository.ts";

const MIGRATION = "2026_11_23_160000_search_trigram_indexes";
const TRIGRAM_INDEXES = ["job_history_data_trgm_idx", "tasks_payload_trgm_idx"];
const OWNER = "00000000-0000-7000-8000-000000000001";
const QUEUE = "search-test";
const ROWS = 20_000;

const handles: DatabaseHandle[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()));
  await Promise.all(cleanups.map((c) => c()));
});

type Compiled = ReturnType<ReturnType<Kysely<Database>["getExecutor"]>["compileQuery"]>;

/** `db`, and the SELECTs sent through it, compiled as the server receives them. */
function recordingSelects(db: Kysely<Database>) {
  const selects: Compiled[] = [];
  const recorder: KyselyPlugin = {
    transformQuery({ node, queryId }) {
      if (node.kind === "SelectQueryNode")
        selects.push(db.getExecutor().compileQuery(node, queryId));
      return node;
    },
    async transformResult({ result }) {
      return result;
    },
  };
  return { db: db.withPlugin(recorder), selects };
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

const flatten = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(flatten)];

/** The plan's nodes for `query` with its parameters, as the server would run it. */
async function planOf(db: Kysely<Database>, query: Compiled): Promise<PlanNode[]> {
  const { rows } = await db.executeQuery<{ "QUERY PLAN": unknown }>({
    ...query,
    sql: `EXPLAIN (FORMAT JSON) ${query.sql}`,
  });
  const output = rows[0]?.["QUERY PLAN"];
  const [explained] = (typeof output === "string" ? JSON.parse(output) : output) as [
    { Plan: PlanNode },
  ];
  return flatten(explained.Plan);
}

const indexesUsed = (plan: PlanNode[]) => plan.flatMap((n) => n["Index Name"] ?? []);
const seqScans = (plan: PlanNode[]) =>
  plan.filter((n) => n["Node Type"] === "Seq Scan").map((n) => n["Relation Name"]);

async function trigramIndexes(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT indexname AS name FROM pg_indexes WHERE indexname LIKE '%trgm%' ORDER BY 1`.execute(db);
  return rows.map((r) => r.name);
}

const md5 = (text: string) => createHash("md5").update(text).digest("hex");

/** `count` tasks and jobs with distinct text in their JSON: an order, an email, a digest. */
async function seed(db: Kysely<Database>, count: number): Promise<void> {
  await db
    .insertInto("users")
    .values({ id: OWNER, email: "owner@example.com", name: "Owner", password_hash: "x" })
    .execute();
  // Ids shaped like UUIDv7 (time first), as the API makes them.
  await sql`
    INSERT INTO tasks (id, owner_id, type, payload, status, max_attempts)
    SELECT (lpad(to_hex(1700000000000 + g), 12, '0') || '7000' || '8' || lpad(to_hex(g), 15, '0'))::uuid,
           ${OWNER}, 'echo',
           jsonb_build_object('order', 'ORD-' || g, 'customer', 'customer' || g || '@example.com',
                              'note', md5(g::text)),
           'DONE', 3
    FROM generate_series(1, ${count}::int) AS g`.execute(db);
  await sql`
    INSERT INTO job_history (queue, job_id, name, state, max_attempts, data, created_at)
    SELECT ${QUEUE}, 'email.welcome.' || g, 'email.welcome', 'completed', 3,
           jsonb_build_object('to', 'customer' || g || '@example.com', 'note', md5(g::text)),
           now() - g * interval '1 second'
    FROM generate_series(1, ${count}::int) AS g`.execute(db);
}

/** Takes the schema back to before MIGRATION (reverting the ones after it too), then up again. */
async function roundTrip(db: Kysely<Database>) {
  const names = (await migrationStatus(db)).map((m) => m.name);
  const steps = names.length - names.indexOf(MIGRATION);
  const reverted = await migrateDown(db, steps);
  expect(reverted.map((r) => r.migrationName)).toContain(MIGRATION);
  const withoutIndexes = await trigramIndexes(db);
  const applied = await migrateUp(db);
  expect(applied.map((r) => r.migrationName)).toContain(MIGRATION);
  return { withoutIndexes, withIndexes: await trigramIndexes(db) };
}

describe("monitor text search on PostgreSQL", async () => {
  const database = await (async () => {
    if (!(await engineAvailable("postgres"))) return undefined;
    const testDb = await createTestDatabase("taskflow_search");
    cleanups.push(testDb.drop);
    const opened = await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 2 });
    handles.push(opened);
    await migrateUp(opened.db);
    await seed(opened.db, ROWS);
    // Rows written after an index was built wait in GIN's pending list, which the planner
    // prices as a scan of the whole list; autovacuum merges it in production, VACUUM does here.
    await sql`VACUUM ANALYZE tasks, job_history`.execute(opened.db);
    return opened;
  })();
  const db = () => {
    if (!database) throw new Error("PostgreSQL unavailable");
    return database.db;
  };

  it("finds tasks by text in their payload through the trigram index, not by reading every task", async () => {
    const recorded = recordingSelects(db());
    const note = md5("12345");
    const page = await createMonitorRepository(recorded.db).searchTasks({
      q: note.slice(3, 15).toUpperCase(),
      limit: 50,
    });
    expect(page.items.map((t) => (t.payload as { note: string }).note)).toEqual([note]);
    const [query] = recorded.selects;
    if (!query) throw new Error("no SELECT recorded");
    const plan = await planOf(db(), query);
    expect(indexesUsed(plan)).toContain("tasks_payload_trgm_idx");
    expect(seqScans(plan)).toEqual([]);
  });

  it("finds a task by its id or by an id in a payload, through the primary key and the trigram index", async () => {
    const target = await db()
      .selectFrom("tasks")
      .select("id")
      .where(sql<boolean>`payload->>'order' = 'ORD-777'`)
      .executeTakeFirstOrThrow();
    const recorded = recordingSelects(db());
    const page = await createMonitorRepository(recorded.db).searchTasks({
      q: target.id,
      limit: 50,
    });
    expect(page.items.map((t) => t.id)).toEqual([target.id]);
    const [query] = recorded.selects;
    if (!query) throw new Error("no SELECT recorded");
    const plan = await planOf(db(), query);
    expect(indexesUsed(plan)).toEqual(
      expect.arrayContaining(["tasks_pkey", "tasks_payload_trgm_idx"]),
    );
    expect(seqScans(plan)).toEqual([]);
  });

  it("finds jobs by text in their data through the trigram index", async () => {
    const recorded = recordingSelects(db());
    const page = await createMonitorRepository(recorded.db).searchJobs({
      queue: QUEUE,
      q: "Customer4321@",
      limit: 50,
    });
    expect(page.items.map((j) => j.job_id)).toEqual(["email.welcome.4321"]);
    const [query] = recorded.selects;
    if (!query) throw new Error("no SELECT recorded");
    const plan = await planOf(db(), query);
    expect(indexesUsed(plan)).toContain("job_history_data_trgm_idx");
    expect(seqScans(plan)).toEqual([]);
  });

  it("migrates down without the indexes (the extension stays) and up with them again", async () => {
    const { withoutIndexes, withIndexes } = await roundTrip(db());
    expect(withoutIndexes).toEqual([]);
    expect(withIndexes).toEqual(TRIGRAM_INDEXES);
    const { rows } = await sql`SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'`.execute(db());
    expect(rows).toHaveLength(1);
  });
});

describe("monitor text search on PGlite", async () => {
  const database = await createDatabase({ dataDir: "memory://" });
  handles.push(database);
  await migrateUp(database.db);

  it("has pg_trgm, and the planner takes its index for the search, as on PostgreSQL", async () => {
    await seed(database.db, ROWS);
    await sql`VACUUM ANALYZE tasks`.execute(database.db);
    const note = md5("321");
    const recorded = recordingSelects(database.db);
    const page = await createMonitorRepository(recorded.db).searchTasks({
      q: note.slice(0, 12),
      limit: 50,
    });
    expect(page.items.map((t) => (t.payload as { note: string }).note)).toEqual([note]);
    const [query] = recorded.selects;
    if (!query) throw new Error("no SELECT recorded");
    expect(indexesUsed(await planOf(database.db, query))).toContain("tasks_payload_trgm_idx");
  });

  it("migrates down without the indexes and up with them again", async () => {
    const { withoutIndexes, withIndexes } = await roundTrip(database.db);
    expect(withoutIndexes).toEqual([]);
    expect(withIndexes).toEqual(TRIGRAM_INDEXES);
  });
});
