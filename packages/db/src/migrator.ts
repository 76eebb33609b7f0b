import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Kysely, Migration, MigrationProvider, MigrationResult } from "kysely";
import { Migrator } from "kysely";

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");

export interface MigrationStatus {
  name: string;
  executedAt: Date | undefined;
}

/**
 * Loads every `*.ts` file of the folder as a migration, through this module's own dynamic
 * import so that whatever runs our TypeScript (tsx, Vitest) also compiles the migrations.
 */
class TypeScriptMigrationProvider implements MigrationProvider {
  constructor(private readonly folder: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of (await fs.readdir(this.folder)).sort()) {
      if (!file.endsWith(".ts") || file.endsWith(".d.ts")) continue;
      const module = (await import(pathToFileURL(path.join(this.folder, file)).href)) as Migration;
      migrations[file.slice(0, -3)] = {
        up: module.up,
        ...(module.down ? { down: module.down } : {}),
      };
    }
    return migrations;
  }
}

function migratorFor<DB>(db: Kysely<DB>, migrationFolder = MIGRATIONS_DIR): Migrator {
  return new Migrator({
    // Migrations see the schema as it was when they were written, not today's types.
    db: db as unknown as Kysely<unknown>,
    provider: new TypeScriptMigrationProvider(migrationFolder),
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

/** Writes an empty migration named after the current UTC time; returns its path. */
export async function createMigration(name: string, now = new Date()): Promise<string> {
  if (!/^[a-z0-9_]{1,80}$/.test(name)) {
    throw new Error(
      "a migration name is lowercase letters, digits and underscores (e.g. add_due_date)",
    );
  }
  const iso = now.toISOString(); // 2026-11-23T09:31:05.000Z → 2026_11_23_093105
  const stamp = `${iso.slice(0, 10).replaceAll("-", "_")}_${iso.slice(11, 19).replaceAll(":", "")}`;
  const file = path.join(MIGRATIONS_DIR, `${stamp}_${name}.ts`);
  await fs.writeFile(file, TEMPLATE, { flag: "wx" });
  return file;
}
