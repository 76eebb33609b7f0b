/**
 * The task pipeline's three batch statements (create, claim, finish) on their own: CPU per
 * task in this process and in its one PostgreSQL backend, for batches of B tasks.
 *
 *   npm run bench:statements -- [B=10] [N=5000]
 *
 * BENCH_SCHEMA_SQL: statements run after the migrations, to try a schema change (an index
 * dropped, a fillfactor) before writing its migration.
 *
 * It isolates the database work from HTTP and AMQP, so a change to a statement can be judged
 * in seconds (compare B=1, where per-statement costs dominate, with the batch sizes
 * `npm run bench` reports under "group commits").
 */
import { readFileSync } from "node:fs";
import { createDatabase, migrateUp, sql } from "@taskflow/db";
import { createTaskRepository } from "@taskflow/tasks";
import { createTestDatabase } from "@taskflow/testing";
import { uuidv7 } from "uuidv7";

const batch = Number(process.argv[2] ?? 10);
const total = Number(process.argv[3] ?? 5000);
if (!(batch >= 1 && total >= batch)) throw new Error("usage: statements.bench.ts [B] [N ≥ B]");
const batches = Math.floor(total / batch);

const testDb = await createTestDatabase("taskflow_statements");
// One connection: its backend's CPU is the statements' CPU.
const database = await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 1 });
try {
  await migrateUp(database.db);
  const whatIf = process.env.BENCH_SCHEMA_SQL;
  if (whatIf) {
    await sql.raw(whatIf).execute(database.db);
    console.log(`schema changed by BENCH_SCHEMA_SQL: ${whatIf}`);
  }
  const owner = uuidv7();
  await sql`INSERT INTO users (id, email, name, password_hash)
            VALUES (${owner}, ${`${owner}@example.com`}, 'bench', 'x')`.execute(database.db);
  const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(database.db);
  const backend = rows[0]?.pid;
  if (backend === undefined) throw new Error("no backend pid");
  /** utime + stime of the backend, in ms (the fields after the command name, 1-based 14 and 15). */
  const backendCpuMs = () => {
    const fields = (readFileSync(`/proc/${backend}/stat`, "utf8").split(") ")[1] ?? "").split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  const tasks = createTaskRepository(database.db);

  const measure = async (name: string, run: (i: number) => Promise<unknown>) => {
    const cpu = process.cpuUsage();
    const backendBefore = backendCpuMs();
    const started = performance.now();
    for (let i = 0; i < batches; i++) await run(i);
    const used = process.cpuUsage(cpu);
    const n = batches * batch;
    const perTask = (ms: number) => (ms / n).toFixed(3);
    console.log(
      `${name.padEnd(7)} B=${batch}  node ${perTask((used.user + used.system) / 1000)} ms/task` +
        `  postgres ${perTask(backendCpuMs() - backendBefore)} ms/task` +
        `  wall ${perTask(performance.now() - started)} ms/task`,
    );
  };

  const ids: string[][] = [];
  await measure("create", async () => {
    const created = await tasks.createMany(
      Array.from({ length: batch }, () => ({
        ownerId: owner,
        type: "sleep",
        title: null,
        payload: { ms: 0 },
        maxAttempts: 3,
      })),
    );
    ids.push(created.map((c) => c.task.id));
  });
  const idsOf = (i: number) => ids[i] ?? [];
  await measure("claim", (i) =>
    tasks.claim(idsOf(i).map((taskId) => ({ taskId, redelivered: false }))),
  );
  await measure("finish", (i) =>
    tasks.finish(
      idsOf(i).map((taskId) => ({ taskId, attempt: 1, ok: true as const, result: null })),
      { baseMs: 1_000, maxMs: 60_000 },
    ),
  );
} finally {
  await database.close();
  await testDb.drop();
}
