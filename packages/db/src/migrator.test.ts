import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Migration } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { migrations } from "./migrations/index.ts";
import { createMigration, MIGRATIONS_DIR } from "./migrator.ts";

const migrationFiles = (folder: string) =>
  readdirSync(folder)
    .filter((f) => f.endsWith(".ts") && f !== "index.ts")
    .map((f) => f.slice(0, -3))
    .sort();

describe("the migration list", () => {
  it("names every migration file, each with an up and a down", () => {
    expect(Object.keys(migrations).sort()).toEqual(migrationFiles(MIGRATIONS_DIR));
    for (const migration of Object.values(migrations)) {
      expect(typeof migration.up).toBe("function");
      expect(typeof migration.down).toBe("function");
    }
  });
});

describe("migrate create", () => {
  const folder = mkdtempSync(path.join(tmpdir(), "taskflow-migrations-"));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it("writes a timestamped migration and lists it after the others", async () => {
    copyFileSync(path.join(MIGRATIONS_DIR, "index.ts"), path.join(folder, "index.ts"));
    const at = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
    const file = await createMigration("add_due_date", at, folder);
    expect(path.basename(file)).toBe("2030_01_02_030405_add_due_date.ts");
    const index = readFileSync(path.join(folder, "index.ts"), "utf8");
    expect(index).toContain(
      'import * as m2030_01_02_030405_add_due_date from "./2030_01_02_030405_add_due_date.ts";',
    );
    expect(index.indexOf('"2030_01_02_030405_add_due_date"')).toBeGreaterThan(
      index.indexOf(`"${Object.keys(migrations).at(-1)}"`),
    );
    await expect(createMigration("add_due_date", at, folder)).rejects.toThrow(/EEXIST/);
    await expect(createMigration("Bad Name", at, folder)).rejects.toThrow(/lowercase/);
  });

  it("lists a long name as the formatter would write it, over two lines", async () => {
    await createMigration("queue_tables_keep_their_pages", new Date(Date.UTC(2030, 0, 4)), folder);
    const id = "2030_01_04_000000_queue_tables_keep_their_pages";
    expect(readFileSync(path.join(folder, "index.ts"), "utf8")).toContain(
      `  "${id}":\n    m${id},\n};`,
    );
  });

  it("writes a module that exports up and down", async () => {
    const file = await createMigration("second", new Date(Date.UTC(2030, 0, 3)), folder);
    const created = (await import(pathToFileURL(file).href)) as Migration;
    expect(typeof created.up).toBe("function");
    expect(typeof created.down).toBe("function");
  });
});
