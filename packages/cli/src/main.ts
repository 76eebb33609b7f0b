import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "@taskflow/config";
import {
  createDatabase,
  createMigration,
  migrateDown,
  migrateUp,
  migrationStatus,
} from "@taskflow/db";
import { onShutdownSignal } from "@taskflow/observability";
import {
  type RunningRole,
  rebuildAnalytics,
  startAlerts,
  startAnalytics,
  startApi,
  startMailer,
  startNotifier,
  startOps,
  startRelay,
  startScheduler,
  startValidator,
  startWorker,
} from "./roles.ts";
import { assertMigrated, openRuntime } from "./runtime.ts";

const USAGE = `Usage: taskflow <command>

Commands:
  start                 every role in one process (api, relay, worker, mailer, notifier,
                        analytics, scheduler, alerts, validator); migrates first
  api                   the HTTP API
  worker                a task worker
  relay                 the outbox relay
  mailer                runs the email jobs (SMTP, or the embedded mail sink)
  notifier              turns order events into notifications and confirmation emails
  analytics             counts the orders and tasks streams into per-minute aggregates
  analytics rebuild     recounts them from the start of the streams (the analytics role
                        must be stopped: refused while one runs), prints a summary, exits
  scheduler             fires the cron schedules (any number may run), prunes old history
  alerts                evaluates the alert rules (webhook and email; one acts at a time)
  validator             the gRPC order validator and product catalog on TASKFLOW_PORT
                        (HTTP ops endpoints on TASKFLOW_OPS_PORT, if set)
  migrate up            apply pending migrations
  migrate down [N]      revert the last N migrations (default 1)
  migrate status        list migrations and when each was applied
  migrate create NAME   write a new, empty migration
  user create EMAIL NAME
                        create an account (operators: the addresses in TASKFLOW_ADMIN_EMAILS
                        cannot register over HTTP); the password is read from standard input

Configuration comes from TASKFLOW_* environment variables (see README.md).
Without TASKFLOW_DATABASE_URL / TASKFLOW_AMQP_URL / TASKFLOW_REDIS_URL / TASKFLOW_SMTP_URL,
embedded engines are used.`;

const ROLES = [
  "start",
  "api",
  "worker",
  "relay",
  "mailer",
  "notifier",
  "analytics",
  "scheduler",
  "alerts",
  "validator",
] as const;
type Role = (typeof ROLES)[number];

async function runRoles(command: Role): Promise<void> {
  const config = loadConfig();
  const rt = await openRuntime(config, command === "start" ? "taskflow" : command);
  const roles: RunningRole[] = [];
  onShutdownSignal(rt.logger, config.shutdownTimeoutMs, async () => {
    // Stop taking work from the outside first, then finish what is in flight, inner roles last.
    for (const role of [...roles].reverse()) {
      await role
        .stop()
        .catch((error: unknown) => rt.logger.error({ err: error, role: role.name }, "stop failed"));
    }
    await rt.close();
  });
  try {
    if (command === "start") {
      const applied = await migrateUp(rt.database.db);
      if (applied.length)
        rt.logger.info({ applied: applied.map((m) => m.migrationName) }, "migrated");
      roles.push(await startWorker(rt));
      roles.push(await startMailer(rt));
      roles.push(await startNotifier(rt));
      roles.push(await startAnalytics(rt));
      roles.push(await startRelay(rt));
      roles.push(await startScheduler(rt));
      roles.push(await startAlerts(rt));
      // Without TASKFLOW_VALIDATOR_URL the validator runs here, still reached over gRPC: on
      // loopback, on a port of the system's choosing.
      let validatorUrl = config.validator.url;
      if (!validatorUrl) {
        const validator = await startValidator(rt, { host: "127.0.0.1", port: 0 });
        roles.push(validator);
        validatorUrl = validator.url;
      }
      const api = await startApi(rt, { port: config.port, validatorUrl });
      roles.push(api);
      console.log(startedMessage(api.url, api.webApp));
      return;
    }
    await assertMigrated(rt.database);
    if (command === "api") roles.push(await startApi(rt, { port: config.port }));
    if (command === "worker") {
      roles.push(await startWorker(rt));
      roles.push(await startOps(rt, { port: config.port }));
    }
    if (command === "relay") {
      roles.push(await startRelay(rt));
      roles.push(await startOps(rt, { port: config.port }));
    }
    if (command === "mailer") {
      roles.push(await startMailer(rt));
      roles.push(await startOps(rt, { port: config.port }));
    }
    if (command === "notifier") {
      roles.push(await startNotifier(rt));
      roles.push(await startOps(rt, { port: config.port }));
    }
    if (command === "analytics") {
      roles.push(await startAnalytics(rt));
      roles.push(await startOps(rt, { port: config.port }));
    }
    if (command === "scheduler") {
      roles.push(await startScheduler(rt));
      roles.push(await startOps(rt, { port: config.port }));
    }
    if (command === "validator") {
      roles.push(
        await startValidator(rt, { host: config.host, port: config.port, opsPort: config.opsPort }),
      );
    }
    if (command === "alerts") {
      roles.push(await startAlerts(rt));
      roles.push(await startOps(rt, { port: config.port }));
    }
  } catch (error) {
    rt.logger.fatal({ err: error }, `${command} failed to start`);
    for (const role of roles.reverse()) await role.stop().catch(() => {});
    await rt.close().catch(() => {});
    throw error;
  }
}

/** What `taskflow start` tells the person who ran it: the address to open. */
function startedMessage(listening: string, webApp: boolean): string {
  const url = new URL(listening);
  // Listening on every interface: this machine's browser reaches it on loopback.
  if (url.hostname === "[::]" || url.hostname === "0.0.0.0") url.hostname = "localhost";
  const base = url.origin;
  return webApp
    ? `\nTaskFlow is running: open ${base}/ (API docs at ${base}/docs)\n`
    : `\nTaskFlow is running: API docs at ${base}/docs (no web app: run \`npm run build -w @taskflow/web\`, or \`npm start\`, which builds it)\n`;
}

async function migrate(args: string[]): Promise<void> {
  const [action, arg] = args;
  if (action === "create") {
    if (!arg) throw new UsageError("migrate create needs a NAME");
    console.log(`created ${await createMigration(arg)}`);
    return;
  }
  const config = loadConfig();
  const database = await createDatabase({
    url: config.database.url,
    dataDir: config.database.dataDir,
  });
  try {
    if (action === "up") {
      const results = await migrateUp(database.db);
      console.log(
        results.length
          ? results.map((r) => `applied ${r.migrationName}`).join("\n")
          : "already up to date",
      );
    } else if (action === "down") {
      const steps = arg === undefined ? 1 : Number(arg);
      if (!Number.isInteger(steps) || steps < 1)
        throw new UsageError("migrate down takes a positive whole number");
      const results = await migrateDown(database.db, steps);
      console.log(
        results.length
          ? results.map((r) => `reverted ${r.migrationName}`).join("\n")
          : "nothing to revert",
      );
    } else if (action === "status") {
      for (const m of await migrationStatus(database.db)) {
        console.log(
          `${m.executedAt ? `applied ${m.executedAt.toISOString()}` : "pending                          "}  ${m.name}`,
        );
      }
    } else {
      throw new UsageError(`unknown migrate action "${action ?? ""}"`);
    }
  } finally {
    await database.close();
  }
}

class UsageError extends Error {}

/** `taskflow analytics rebuild`, run while no analytics role does. */
async function analytics(args: string[]): Promise<void> {
  if (args.length !== 1 || args[0] !== "rebuild")
    throw new UsageError(`unknown analytics action "${args.join(" ")}"`);
  const config = loadConfig();
  const rt = await openRuntime(config, "analytics-rebuild");
  try {
    await assertMigrated(rt.database);
    console.log(await rebuildAnalytics(rt));
  } finally {
    await rt.close();
  }
}

/** `taskflow user create EMAIL NAME`, the password on standard input (never in argv). */
async function user(args: string[]): Promise<void> {
  const [action, email, ...nameParts] = args;
  const name = nameParts.join(" ");
  if (action !== "create" || !email || !name) {
    throw new UsageError("user create needs an EMAIL and a NAME");
  }
  const password = (await readStdin()).split("\n")[0]?.trim() ?? "";
  if (password.length < 8)
    throw new UsageError("the password (on standard input) needs 8 characters or more");
  const config = loadConfig();
  // Loaded here: the API's modules are not every command's.
  const { createAccount, createUserRepository, HttpProblem } = await import("@taskflow/api");
  const database = await createDatabase({
    url: config.database.url,
    dataDir: config.database.dataDir,
  });
  try {
    await assertMigrated(database);
    const created = await createAccount(createUserRepository(database.db), {
      email,
      name,
      password,
    });
    console.log(`created ${created.id} ${created.email}`);
  } catch (error) {
    if (error instanceof HttpProblem) throw new Error(error.message);
    throw error;
  } finally {
    await database.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { help: { type: "boolean", short: "h" } },
  });
  const [command, ...rest] = positionals;
  try {
    if (values.help || !command || command === "help") {
      console.log(USAGE);
      return;
    }
    if (command === "migrate") return await migrate(rest);
    if (command === "user") return await user(rest);
    if (command === "analytics" && rest.length > 0) return await analytics(rest);
    if ((ROLES as readonly string[]).includes(command)) return await runRoles(command as Role);
    throw new UsageError(`unknown command "${command}"`);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    if (error instanceof UsageError) {
      console.error(`taskflow: ${error.message}\n\n${USAGE}`);
      process.exit(64); // EX_USAGE
    }
    console.error(`taskflow: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
