import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  type ChildEnv,
  createTestDatabase,
  engineAvailable,
  repoRoot,
  runTaskflow,
  type TestDatabase,
} from "@taskflow/testing";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";

/**
 * The taskflow program as an operator meets it: a bad setting stops it with a message that
 * names the variable; `migrate` says what it did.
 */
const dataDir = mkdtempSync(path.join(tmpdir(), "taskflow-config-e2e-"));
const base: ChildEnv = { TASKFLOW_DATA_DIR: dataDir, TASKFLOW_LOG_LEVEL: "warn" };

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("taskflow refuses a bad configuration", () => {
  it("when TASKFLOW_PORT is not a number, then `taskflow api` exits non-zero naming TASKFLOW_PORT and the bad value", async () => {
    const result = await runTaskflow(["api"], { ...base, TASKFLOW_PORT: "notaport" });
    expect(result.code, result.stdout + result.stderr).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toMatch(/TASKFLOW_PORT/);
    expect(result.stderr).toMatch(/notaport/);
  }, 30_000);

  it("when NODE_ENV=production and TASKFLOW_JWT_SECRET is unset, then it refuses to start, naming TASKFLOW_JWT_SECRET", async () => {
    const result = await runTaskflow(["api"], {
      ...base,
      NODE_ENV: "production",
      TASKFLOW_PORT: "0",
    });
    expect(result.code, result.stdout + result.stderr).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toMatch(/TASKFLOW_JWT_SECRET/);
  }, 30_000);

  it("when TASKFLOW_JWT_SECRET is too short, then it refuses to start, naming it", async () => {
    const result = await runTaskflow(["start"], {
      ...base,
      NODE_ENV: "production",
      TASKFLOW_JWT_SECRET: "short",
      TASKFLOW_PORT: "0",
    });
    expect(result.code, result.stdout + result.stderr).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toMatch(/TASKFLOW_JWT_SECRET.*32/);
  }, 30_000);
});

const postgres = await engineAvailable("postgres");

describe.skipIf(!postgres)("taskflow migrate on a fresh PostgreSQL database", () => {
  const migrations = readdirSync(path.join(repoRoot, "packages/db/src/migrations"))
    .filter((f) => f.endsWith(".ts") && f !== "index.ts")
    .map((f) => f.slice(0, -3))
    .sort();
  const last = migrations.at(-1) as string;
  let database: TestDatabase | undefined;
  afterAll(async () => {
    await database?.drop();
  });

  const tables = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('users', 'tasks', 'outbox') ORDER BY 1",
      );
      return rows.map((r) => r.name);
    } finally {
      await client.end();
    }
  };
  /** `migrate status` as {name: "applied" | "pending"}. */
  const status = async (env: ChildEnv) => {
    const result = await runTaskflow(["migrate", "status"], env);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n");
    return Object.fromEntries(
      lines.map((line) => {
        const match = /^(applied \d{4}-\d\d-\d\dT[\d:.]+Z|pending)\s+(\S+)$/.exec(line);
        if (!match) throw new Error(`unexpected status line: ${JSON.stringify(line)}`);
        return [match[2], match[1]?.startsWith("applied") ? "applied" : "pending"];
      }),
    );
  };
  const all = (state: "applied" | "pending") =>
    Object.fromEntries(migrations.map((m) => [m, state]));

  it("when migrations go up and down, then status, up and down each print what they did, and a role refuses the unmigrated schema", async () => {
    database = await createTestDatabase("taskflow_cli");
    const env: ChildEnv = { ...base, TASKFLOW_DATABASE_URL: database.url };

    expect(await status(env)).toEqual(all("pending"));

    const refused = await runTaskflow(["worker"], { ...env, TASKFLOW_PORT: "0" });
    expect(refused.code, refused.stdout + refused.stderr).not.toBe(0);
    expect(refused.code).not.toBeNull();
    expect(refused.stdout + refused.stderr).toMatch(/migrate up/);

    const up = await runTaskflow(["migrate", "up"], env);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout.trim().split("\n")).toEqual(migrations.map((m) => `applied ${m}`));
    expect(await tables(database.url)).toEqual(["outbox", "tasks", "users"]);
    expect(await status(env)).toEqual(all("applied"));

    const again = await runTaskflow(["migrate", "up"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe("already up to date");

    const down = await runTaskflow(["migrate", "down"], env);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout.trim()).toBe(`reverted ${last}`);
    expect(await status(env)).toEqual({ ...all("applied"), [last]: "pending" });
    if (migrations.length === 1) expect(await tables(database.url)).toEqual([]);

    const bad = await runTaskflow(["migrate", "down", "zero"], env);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/positive whole number/);
  }, 240_000);
});

describe("taskflow user create", () => {
  it("when an account is created with the password on standard input, then it is stored; a short password, a taken email or an unmigrated database is refused", async () => {
    const folder = mkdtempSync(path.join(tmpdir(), "taskflow-user-e2e-"));
    const env: ChildEnv = { ...base, TASKFLOW_DATA_DIR: folder };
    try {
      expect((await runTaskflow(["migrate", "up"], env)).code).toBe(0);
      const created = await runTaskflow(["user", "create", "Ops@Example.com", "Ops", "Team"], env, {
        input: "a-long-enough-password\n",
      });
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toMatch(/^created [0-9a-f-]{36} Ops@Example\.com$/m);

      const short = await runTaskflow(["user", "create", "x@example.com", "X"], env, {
        input: "short\n",
      });
      expect(short.code).toBe(64);
      expect(short.stderr).toMatch(/8 characters/);

      const taken = await runTaskflow(["user", "create", "ops@example.com", "Again"], env, {
        input: "another-long-password\n",
      });
      expect(taken.code).toBe(1);
      expect(taken.stderr).toMatch(/already exists/);

      const migrated = await runTaskflow(
        ["user", "create", "y@example.com", "Y"],
        {
          ...base,
          TASKFLOW_DATA_DIR: path.join(folder, "empty"),
        },
        { input: "a-long-enough-password\n" },
      );
      expect(migrated.code).not.toBe(0);
      expect(migrated.stderr).toMatch(/migrate up/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 300_000);
});
