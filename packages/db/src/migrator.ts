import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Kysely, MigrationProvider, MigrationResult } from "kysely";
import { Migrator } from "kysely";
import { migrations } from "./migrations/index.ts";

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");

export interface MigrationStatus {
  name: string;
  executedAt: Date | undefined;
}

/** The migrations listed in migrations/index.ts (static imports: a bundle carries them). */
const listedMigrations: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

function migratorFor<DB>(db: Kysely<DB>): Migrator {
  return new Migrator({
    // Migrations see the schema as it was when they were written, not today's types.
    db: db as unknown as Kysely<unknown>,
    provider: listedMigrations,
    migrationTableName: "schema_migrations",
    migrationLockTableName: "schema_migrations_lock",
  });
}

function unwrap(outcome: { error?: unknown; results?: MigrationResult[] }): MigrationResult[] {
  if (outcome.error) {
    const failed = outcome.results?.find((r) => r.status === "Error");
    const reason = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    throw new Error(failed ? `migration ${failed.migrationName} failed: ${reason}` : reason, {
      cause: outcome.error,
    });
  }
  return outcome.results ?? [];
}

/** Applies every pending migration, in name order, each in its own transaction. */
export async function migrateUp<DB>(db: Kysely<DB>): Promise<MigrationResult[]> {
  return unwrap(await migratorFor(db).migrateToLatest());
}

/** Reverts the last `steps` applied migrations. */
export async function migrateDown<DB>(db: Kysely<DB>, steps = 1): Promise<MigrationResult[]> {
  const results: MigrationResult[] = [];
  const migrator = migratorFor(db);
  for (let i = 0; i < steps; i++) {
    const step = unwrap(await migrator.migrateDown());
    if (step.length === 0) break;
    results.push(...step);
  }
  return results;
}

export async function migrationStatus<DB>(db: Kysely<DB>): Promise<MigrationStatus[]> {
  const migrations = await migratorFor(db).getMigrations();
  return migrations.map((m) => ({ name: m.name, executedAt: m.executedAt }));
}

const TEMPLATE = `import type { Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  // await db.schema.alterTable("tasks").addColumn("example", "text").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // await db.schema.alterTable("tasks").dropColumn("example").execute();
}
`;

/**
 * Writes an empty migration named after the current UTC time and lists it in
 * migrations/index.ts; returns its path.
 */
export async function createMigration(
  name: string,
  now = new Date(),
  folder = MIGRATIONS_DIR,
): Promise<string> {
  if (!/^[a-z0-9_]{1,80}$/.test(name)) {
    throw new Error(
      "a migration name is lowercase letters, digits and underscores (e.g. add_due_date)",
    );
  }
  const iso = now.toISOString(); // 2026-11-23T09:31:05.000Z → 2026_11_23_093105
  const stamp = `${iso.slice(0, 10).replaceAll("-", "_")}_${iso.slice(11, 19).replaceAll(":", "")}`;
  const id = `${stamp}_${name}`;
  const file = path.join(folder, `${id}.ts`);
  const indexFile = path.join(folder, "index.ts");
  const index = await fs.readFile(indexFile, "utf8");
  const listEnd = index.lastIndexOf("};");
  const importsEnd = index.indexOf("\n\n", index.lastIndexOf("\nimport "));
  if (listEnd < 0 || importsEnd < 0 || importsEnd > listEnd) {
    throw new Error(`${indexFile} is not in the expected shape: add the migration by hand`);
  }
  await fs.writeFile(file, TEMPLATE, { flag: "wx" });
  // As the formatter (biome.json: 100 columns) writes an entry too long for one line.
  const entry =
    `  "${id}": m${id},`.length > 100 ? `  "${id}":\n    m${id},` : `  "${id}": m${id},`;
  await fs.writeFile(
    indexFile,
    `${index.slice(0, importsEnd)}\nimport * as m${id} from "./${id}.ts";${index.slice(importsEnd, listEnd)}${entry}\n${index.slice(listEnd)}`,
  );
  return file;
}
