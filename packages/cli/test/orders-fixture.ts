import { randomBytes } from "node:crypto";
import { formatMoney } from "@taskflow/mail";
import { partitionOf } from "@taskflow/messaging";
import {
  type ApiAnswer,
  ApiClient,
  type ChildEnv,
  type Credentials,
  createTestDatabase,
  deleteRabbitMqQueue,
  engineAvailable,
  freePort,
  newCredentials,
  openRabbitMqVhost,
  type RabbitMqSite,
  type RoleProcess,
  requireServices,
  runMigrations,
  runTaskflow,
  signUp,
  startRole,
  startTestSmtpServer,
  type TestDatabase,
  type TestSmtpServer,
  testEngines,
  testPool,
  uniqueName,
  waitFor,
} from "@taskflow/testing";
import { Redis } from "ioredis";
import type pg from "pg";

/**
 * The order flow on real engines, each role a `taskflow` process of its own: a database, a
 * job queue (BullMQ on Redis) and an SMTP server of the run's own; the event stream given
 * by the caller (TASKFLOW_STREAM_URL; unset: the embedded one).
 *
 * The task queue and the event bus are RabbitMQ's, on a virtual host of the run's own: the
 * bus's exchange (`taskflow.events`) and the notifier's queue (`notifier`) have fixed names, so
 * two runs on one vhost would share one queue — and a notifier whose database does not know an
 * order's owner acknowledges the event and makes nothing, so the other run would lose it.
 */

/** A product this run adds to its catalog: the seeded one is all in EUR. */
export const USD_PRODUCT = {
  sku: "US-PLUG",
  name: "US power adapter",
  price_cents: 1_999,
  currency: "USD",
  stock: 500,
};

export type StreamEngine = "embedded" | "redis" | "nats" | "kafka";

/**
 * Whether the stream engine answers: true, false (skip), or the error that fails the run when
 * TASKFLOW_REQUIRE_SERVICES=1. Kafka also needs KAFKA_BROKERS then (CI exports what
 * `npm run kafka:start` printed).
 */
export async function streamEngineStatus(engine: StreamEngine): Promise<boolean | Error> {
  try {
    if (engine === "embedded") return true;
    if (engine === "kafka" && requireServices && !process.env.KAFKA_BROKERS) {
      throw new Error(
        "kafka is required (TASKFLOW_REQUIRE_SERVICES=1) but KAFKA_BROKERS is not set (`npm run -s kafka:start` prints it)",
      );
    }
    return await engineAvailable(engine);
  } catch (error) {
    return error as Error;
  }
}

/** TASKFLOW_STREAM_URL for the shared engines of this machine. */
export function streamUrlOf(engine: StreamEngine): string | undefined {
  switch (engine) {
    case "embedded":
      return undefined;
    case "redis":
      return testEngines.redisUrl;
    case "nats":
      return testEngines.natsUrl;
    case "kafka":
      return `kafka://${testEngines.kafkaBrokers.join(",")}`;
  }
}

/** PostgreSQL and Redis (the job queue) answer; throws when required and they do not. */
export async function orderEnginesAvailable(): Promise<boolean> {
  const [postgres, redis] = await Promise.all([
    engineAvailable("postgres"),
    engineAvailable("redis"),
  ]);
  return postgres && redis;
}

export type OrderRole = "validator" | "api" | "relay" | "notifier" | "mailer" | "analytics";

export interface OrdersStack {
  /** Every role's environment (its own database, job queue, SMTP server, stream). */
  env: ChildEnv;
  database: TestDatabase;
  /** Straight SQL on this run's database. */
  sql: pg.Pool;
  smtp: TestSmtpServer;
  roles: Record<OrderRole, RoleProcess>;
  /** The customer: registered over HTTP. */
  customer: { client: ApiClient; credentials: Credentials; userId: string };
  /** An operator (TASKFLOW_ADMIN_EMAILS), made with `taskflow user create`. */
  operator: ApiClient;
  /** A product of this run's catalog alone (see analyticsBaseline). */
  sentinelSku: string;
  /** Starts `role` again (the validator on its gRPC port: the address the API dials). */
  restart(role: OrderRole): Promise<RoleProcess>;
  /** For a failure's message: the outbox's rows by destination and the tail of each role's output. */
  diagnose(): Promise<string>;
  /** SIGTERMs every role, the API first; resolves with their exits. */
  stop(): Promise<Record<string, { code: number | null; signal: string | null }>>;
  /** SIGKILLs what still runs, drops the database, stops SMTP, deletes the job queue's keys. */
  cleanup(): Promise<void>;
}

/** Pool size per role: a handful each, so several runs fit PostgreSQL's 100 connections. */
const POOL: Record<OrderRole, string> = {
  validator: "4",
  api: "8",
  relay: "3",
  notifier: "4",
  mailer: "3",
  analytics: "3",
};

/**
 * Migrates a database of the run's own, adds USD_PRODUCT and a sentinel product to its
 * catalog, starts an SMTP server and the roles (validator, api, relay, notifier, mailer,
 * analytics, or those asked for; each a process, started side by side), creates the operator
 * account with `taskflow user create` and registers the customer over HTTP.
 */
export async function openOrdersStack(
  prefix: string,
  options: { streamUrl: string | undefined; roles?: readonly OrderRole[]; env?: ChildEnv },
): Promise<OrdersStack> {
  const wanted = new Set<OrderRole>(
    options.roles ?? ["validator", "api", "relay", "notifier", "mailer", "analytics"],
  );
  const database = await createTestDatabase(`taskflow_${prefix}`);
  const jobQueue = uniqueName(`e2e.${prefix}.jobs`);
  const taskQueue = uniqueName(`e2e.${prefix}.tasks`);
  let rabbit: RabbitMqSite | undefined;
  const sql = testPool(database.url, 2);
  let smtp: TestSmtpServer | undefined;
  const started: RoleProcess[] = [];
  const operatorCredentials = newCredentials("operator");
  const sentinelSku = `RUN-${randomBytes(6).toString("hex").toUpperCase()}`;

  const cleanup = async () => {
    await Promise.all(started.map((role) => role.kill()));
    await smtp?.stop();
    await rabbit?.cleanup().catch(() => {});
    await sql.end().catch(() => {});
    await database.drop();
    const redis = new Redis(testEngines.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      const keys = await redis.keys(`*${jobQueue}*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  };

  try {
    [smtp, rabbit] = await Promise.all([
      startTestSmtpServer(),
      openRabbitMqVhost(`taskflow_${prefix}`, () => deleteRabbitMqQueue(taskQueue)),
    ]);
    const env: ChildEnv = {
      TASKFLOW_DATABASE_URL: database.url,
      TASKFLOW_REDIS_URL: testEngines.redisUrl,
      TASKFLOW_JOB_QUEUE: jobQueue,
      TASKFLOW_TASK_QUEUE: taskQueue,
      TASKFLOW_AMQP_URL: rabbit.url,
      TASKFLOW_STREAM_URL: options.streamUrl,
      TASKFLOW_SMTP_URL: smtp.url,
      TASKFLOW_MAIL_FROM: "TaskFlow <orders@taskflow.test>",
      TASKFLOW_JWT_SECRET: randomBytes(32).toString("base64url"),
      TASKFLOW_ADMIN_EMAILS: operatorCredentials.email,
      TASKFLOW_LOG_LEVEL: "warn",
      TASKFLOW_LOGIN_RATE_LIMIT: "1000",
      TASKFLOW_SHUTDOWN_TIMEOUT_MS: "5000",
      ...options.env,
    };
    await runMigrations(env);
    await sql.query(
      "INSERT INTO products (sku, name, price_cents, currency, stock) VALUES ($1, $2, $3, $4, $5), ($6, $7, 0, 'EUR', 1000)",
      [
        USD_PRODUCT.sku,
        USD_PRODUCT.name,
        USD_PRODUCT.price_cents,
        USD_PRODUCT.currency,
        USD_PRODUCT.stock,
        sentinelSku,
        "Sentinel of one test run",
      ],
    );

    const roles = {} as Record<OrderRole, RoleProcess>;
    // The validator's gRPC port is chosen here, so the API (which dials it lazily) starts
    // beside it rather than after it.
    const validatorPort = await freePort();
    const start = async (role: OrderRole) => {
      const child = await startRole(
        role,
        {
          ...env,
          TASKFLOW_DB_POOL_SIZE: POOL[role],
          ...(role === "api" ? { TASKFLOW_VALIDATOR_URL: `127.0.0.1:${validatorPort}` } : {}),
        },
        { readyTimeoutMs: 90_000, ...(role === "validator" ? { port: validatorPort } : {}) },
      );
      started.push(child);
      roles[role] = child;
      return child;
    };
    const [created] = await Promise.all([
      runTaskflow(["user", "create", operatorCredentials.email, "Operator"], env, {
        input: `${operatorCredentials.password}\n`,
      }),
      ...[...wanted].map((role) => start(role)),
    ]);
    if (created.code !== 0) {
      throw new Error(`taskflow user create failed (${created.code}): ${created.stderr}`);
    }
    const customer = await signUp(roles.api.url, newCredentials("customer"));
    const operator = await new ApiClient(roles.api.url).login(operatorCredentials);

    return {
      env,
      database,
      sql,
      smtp,
      roles,
      customer,
      operator,
      sentinelSku,
      restart: (role) => start(role),
      async diagnose() {
        const outbox = await sql
          .query<{ destination: string; n: number }>(
            "SELECT destination, count(*)::int AS n FROM outbox GROUP BY destination",
          )
          .then(
            (r) => JSON.stringify(r.rows),
            (error: Error) => error.message,
          );
        const outputs = Object.entries(roles).map(
          ([role, child]) =>
            `--- ${role} (pid ${child.pid}), its last lines:\n${logSummary(child.output())}`,
        );
        return [`outbox: ${outbox}`, ...outputs].join("\n");
      },
      async stop() {
        const exits: Record<string, { code: number | null; signal: string | null }> = {};
        // Outside in: nothing new comes in, then each consumer finishes what it holds.
        for (const role of ["api", "relay", "notifier", "mailer", "analytics", "validator"]) {
          const child = roles[role as OrderRole];
          if (child) exits[role] = await child.stop("SIGTERM");
        }
        return exits;
      },
      cleanup,
    };
  } catch (error) {
    await cleanup().catch(() => {});
    throw error;
  }
}

export interface OrderRequest {
  items: { sku: string; quantity: number }[];
  note?: string;
}

export interface InvalidOrder {
  why: string;
  order: OrderRequest;
  /** The JSON pointers the 422 must name (at least these). */
  paths: string[];
}

export interface OrderLine {
  sku: string;
  name: string;
  quantity: number;
  unit_price_cents: number;
  line_total_cents: number;
}

export interface PlacedOrder {
  id: string;
  status: "CONFIRMED";
  items: OrderLine[];
  total_cents: number;
  currency: string;
  note: string | null;
  created_at: string;
}

/** SKUs whose stock (40 and more) no order here comes near: the validator reserves none. */
const AMPLE = ["KB-101", "MS-201", "MN-270", "HD-330", "WC-110", "LP-140", "CB-USB", "HB-700"];

/** A small deterministic generator, so a run's orders (and top products) are reproducible. */
function generator(seed: number) {
  let state = seed >>> 0;
  return (n: number) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state % n;
  };
}

/**
 * `valid` orders the validator accepts — one to four lines over well-stocked SKUs, a few
 * edge cases (1,000 of one SKU, 100 lines, one SKU on two lines, all of DS-400's stock, a
 * note), every 15th in USD — and `invalid` ones, ten ways in turn.
 */
export function orderWorkload(counts: { valid: number; invalid: number }, seed = 42) {
  const pick = generator(seed);
  const valid: OrderRequest[] = [];
  const special: OrderRequest[] = [
    { items: [{ sku: "CB-USB", quantity: 1_000 }] },
    { items: Array.from({ length: 100 }, () => ({ sku: "MS-201", quantity: 1 })) },
    {
      items: [
        { sku: "KB-101", quantity: 2 },
        { sku: "LP-140", quantity: 1 },
        { sku: "KB-101", quantity: 3 },
      ],
    },
    { items: [{ sku: "DS-400", quantity: 12 }] },
    { items: [{ sku: "MP-XL", quantity: 2 }], note: "leave it at the door" },
  ];
  for (let i = 0; i < counts.valid; i++) {
    const edge = special[i];
    if (edge && counts.valid >= 20) {
      valid.push(edge);
    } else if (i % 15 === 14) {
      valid.push({ items: [{ sku: USD_PRODUCT.sku, quantity: 1 + pick(4) }] });
    } else {
      const lines = 1 + pick(4);
      valid.push({
        items: Array.from({ length: lines }, () => ({
          sku: AMPLE[pick(AMPLE.length)] as string,
          quantity: 1 + pick(5),
        })),
      });
    }
  }
  const kinds: ((i: number) => InvalidOrder)[] = [
    (i) => ({
      why: "unknown sku",
      order: { items: [{ sku: `NOPE-${i}`, quantity: 1 }] },
      paths: ["/body/items/0/sku"],
    }),
    () => ({
      why: "quantity 0",
      order: { items: [{ sku: "KB-101", quantity: 0 }] },
      paths: ["/body/items/0/quantity"],
    }),
    () => ({
      why: "quantity over 1000",
      order: { items: [{ sku: "CB-USB", quantity: 1_001 }] },
      paths: ["/body/items/0/quantity"],
    }),
    () => ({ why: "no items", order: { items: [] }, paths: ["/body/items"] }),
    () => ({
      why: "more than the stock (LT-LED: 2)",
      order: { items: [{ sku: "LT-LED", quantity: 3 }] },
      paths: ["/body/items/0/quantity"],
    }),
    () => ({
      why: "more than the stock over two lines (CH-500: 3)",
      order: {
        items: [
          { sku: "CH-500", quantity: 2 },
          { sku: "CH-500", quantity: 2 },
        ],
      },
      paths: ["/body/items/0/quantity", "/body/items/1/quantity"],
    }),
    () => ({
      why: "mixed currencies",
      order: {
        items: [
          { sku: "KB-101", quantity: 1 },
          { sku: USD_PRODUCT.sku, quantity: 1 },
        ],
      },
      paths: ["/body/items/1/sku"],
    }),
    () => ({
      why: "negative quantity",
      order: { items: [{ sku: "MS-201", quantity: -2 }] },
      paths: ["/body/items/0/quantity"],
    }),
    () => ({
      why: "note over 500 characters",
      order: { items: [{ sku: "MS-201", quantity: 1 }], note: "n".repeat(501) },
      paths: ["/body/note"],
    }),
    (i) => ({
      why: "one bad line among good ones",
      order: {
        items: [
          { sku: "MS-201", quantity: 1 },
          { sku: "HB-700", quantity: 1 },
          { sku: `GONE-${i}`, quantity: 1 },
        ],
      },
      paths: ["/body/items/2/sku"],
    }),
  ];
  const invalid = Array.from({ length: counts.invalid }, (_, i) =>
    (kinds[i % kinds.length] as (i: number) => InvalidOrder)(i),
  );
  return { valid, invalid };
}

/** Valid and invalid orders mixed (every fourth one invalid while both last), in a fixed order. */
export function interleave(valid: OrderRequest[], invalid: InvalidOrder[]) {
  const all: ({ valid: true; order: OrderRequest } | ({ valid: false } & InvalidOrder))[] = [];
  let v = 0;
  let x = 0;
  while (v < valid.length || x < invalid.length) {
    const takeInvalid = x < invalid.length && (v >= valid.length || all.length % 4 === 3);
    if (takeInvalid) all.push({ valid: false, ...(invalid[x++] as InvalidOrder) });
    else all.push({ valid: true, order: valid[v++] as OrderRequest });
  }
  return all;
}

/**
 * POSTs each order, `concurrency` at a time, as a client should: a 503 (the validator did not
 * answer within its deadline, as happens on a loaded machine; nothing was stored) is tried
 * again after a pause, a few times. Answers in input order.
 */
export async function placeOrders(
  client: ApiClient,
  orders: readonly OrderRequest[],
  { concurrency = 8, onAnswer }: { concurrency?: number; onAnswer?: () => void } = {},
): Promise<ApiAnswer<PlacedOrder>[]> {
  const answers = new Array<ApiAnswer<PlacedOrder>>(orders.length);
  let next = 0;
  const lane = async () => {
    while (next < orders.length) {
      const i = next++;
      for (let attempt = 1; ; attempt++) {
        const answer = await client.request<PlacedOrder>("POST", "/api/orders", orders[i]);
        answers[i] = answer;
        if (answer.status !== 503 || attempt === 5) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      onAnswer?.();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, orders.length) }, lane));
  return answers;
}

/** Every item of a cursor-paged list (`limit=100`). */
export async function allPages<T>(client: ApiClient, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const page: ApiAnswer<{ items: T[]; next_cursor: string | null }> = await client.request(
      "GET",
      `${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    if (page.status !== 200) throw new Error(`GET ${path}: HTTP ${page.status}`);
    items.push(...page.body.items);
    cursor = page.body.next_cursor;
  } while (cursor);
  return items;
}

export interface AnalyticsSummary {
  orders: { count: number; revenue_cents: Record<string, number> };
  top_products: {
    sku: string;
    name: string;
    currency: string;
    quantity: number;
    revenue_cents: number;
  }[];
}

/** What GET /api/analytics/summary must say of exactly these orders (top: all products). */
export function expectedSummary(orders: readonly PlacedOrder[]) {
  const revenue: Record<string, number> = {};
  const products = new Map<string, AnalyticsSummary["top_products"][number]>();
  for (const order of orders) {
    revenue[order.currency] = (revenue[order.currency] ?? 0) + order.total_cents;
    for (const line of order.items) {
      const key = `${line.sku}/${order.currency}`;
      const product = products.get(key) ?? {
        sku: line.sku,
        name: line.name,
        currency: order.currency,
        quantity: 0,
        revenue_cents: 0,
      };
      product.quantity += line.quantity;
      product.revenue_cents += line.line_total_cents;
      products.set(key, product);
    }
  }
  const top = [...products.values()].sort(byUnitsThenRevenue);
  return { count: orders.length, revenue_cents: revenue, top_products: top };
}

/** The analytics summary over the last hour, every product listed. */
export async function analyticsSummary(operator: ApiClient): Promise<AnalyticsSummary> {
  const answer = await operator.request<AnalyticsSummary>(
    "GET",
    "/api/analytics/summary?minutes=60&top=100",
  );
  if (answer.status !== 200) {
    throw new Error(`analytics summary: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return answer.body;
}

/**
 * The analytics summary once the analytics role has read whatever the event stream held
 * before this run. The roles' topic and group names are fixed (`orders`, `analytics`), so on
 * a shared engine the topic may hold earlier runs' orders, and a new group reads them from
 * the start: this run's figures are what the summary gained after this baseline. The operator
 * places orders of this run's own product (no notification or email for the customer) until
 * their keys cover every partition, and the baseline is taken once the analytics counted them
 * all: every partition is read in order, so what came before them was counted too. (Runs at
 * the same time on one engine would still mix: names per run need a setting the roles lack.)
 */
export async function analyticsBaseline(
  stack: OrdersStack,
): Promise<{ summary: AnalyticsSummary; sentinels: string[] }> {
  const covered = new Set<number>();
  const sentinels: string[] = [];
  while (covered.size < STREAM_PARTITIONS) {
    const answer = await stack.operator.request<PlacedOrder>("POST", "/api/orders", {
      items: [{ sku: stack.sentinelSku, quantity: 1 }],
    });
    if (answer.status !== 201) {
      throw new Error(`a sentinel order: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    sentinels.push(answer.body.id);
    covered.add(partitionOf(answer.body.id, STREAM_PARTITIONS));
  }
  const placed = sentinels.length;
  let last: AnalyticsSummary | undefined;
  await waitFor(
    async () => {
      last = await analyticsSummary(stack.operator);
      return last.top_products.find((p) => p.sku === stack.sentinelSku)?.quantity === placed;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: `the ${placed} sentinel orders counted` },
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}: ${JSON.stringify(last)}\n${await stack.diagnose()}`);
  });
  return { summary: last as AnalyticsSummary, sentinels };
}

/** The topics' partitions, as the relay and the analytics role create them (packages/cli roles.ts). */
const STREAM_PARTITIONS = 3;

/** What the summary gained since `base`, in expectedSummary's shape (unchanged products left out). */
export function summaryGain(base: AnalyticsSummary, now: AnalyticsSummary) {
  const revenue: Record<string, number> = {};
  for (const [currency, cents] of Object.entries(now.orders.revenue_cents)) {
    const gained = cents - (base.orders.revenue_cents[currency] ?? 0);
    if (gained !== 0) revenue[currency] = gained;
  }
  const before = new Map(base.top_products.map((p) => [`${p.sku}/${p.currency}`, p]));
  const products = now.top_products
    .map((p) => {
      const was = before.get(`${p.sku}/${p.currency}`);
      return {
        ...p,
        quantity: p.quantity - (was?.quantity ?? 0),
        revenue_cents: p.revenue_cents - (was?.revenue_cents ?? 0),
      };
    })
    .filter((p) => p.quantity !== 0 || p.revenue_cents !== 0);
  return {
    count: now.orders.count - base.orders.count,
    revenue_cents: revenue,
    top_products: products.sort(byUnitsThenRevenue),
  };
}

/** The summary's order of top products: units sold, then revenue, then sku and currency. */
function byUnitsThenRevenue(
  a: AnalyticsSummary["top_products"][number],
  b: AnalyticsSummary["top_products"][number],
) {
  return (
    b.quantity - a.quantity ||
    b.revenue_cents - a.revenue_cents ||
    a.sku.localeCompare(b.sku) ||
    a.currency.localeCompare(b.currency)
  );
}

/**
 * The order confirmations the SMTP server holds (only those to `to`, if given): order id
 * (from the text), recipients, subject.
 */
export function confirmationEmails(smtp: TestSmtpServer, to?: string) {
  return smtp.received
    .filter((mail) => mail.subject?.startsWith("Your TaskFlow order"))
    .map((mail) => ({
      orderId: /Order reference: ([0-9a-f-]{36})/.exec(mail.text ?? "")?.[1],
      to: mail.to && !Array.isArray(mail.to) ? mail.to.value.map((a) => a.address) : [],
      subject: mail.subject ?? "",
      messageId: mail.messageId,
    }))
    .filter((mail) => to === undefined || mail.to.join() === to);
}

/** The subject a confirmation of `order` carries. */
export const confirmationSubject = (order: Pick<PlacedOrder, "total_cents" | "currency">) =>
  `Your TaskFlow order is confirmed (${formatMoney(order.total_cents, order.currency)})`;

/** How many times each value occurs. */
export function tally(values: readonly (string | number | undefined)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
  return counts;
}

/** How many times each value occurs, for the ones that occur more than once. */
export function repeated(values: readonly (string | undefined)[]): Record<string, number> {
  return Object.fromEntries(Object.entries(tally(values)).filter(([, n]) => n > 1));
}

/** Waits until `count()` reaches `want` (fails past `timeoutMs`), then for `settleMs` more. */
export async function waitForCount(
  count: () => Promise<number> | number,
  want: number,
  what: string,
  { timeoutMs = 60_000, settleMs = 1_500 } = {},
): Promise<void> {
  await waitFor(async () => (await count()) >= want, { timeoutMs, intervalMs: 250, what });
  // Room for a late duplicate to show.
  await new Promise((resolve) => setTimeout(resolve, settleMs));
}

/** The last `lines` log lines of a role's output, one short line each (pino JSON shortened). */
function logSummary(output: string, lines = 15): string {
  return output
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .slice(-lines)
    .map((line) => {
      try {
        const entry = JSON.parse(line) as {
          time?: string;
          msg?: string;
          err?: { message?: string };
        } & Record<string, unknown>;
        const { time, msg, err, level, service, pid, hostname, ...rest } = entry;
        return `${time} ${msg} ${err?.message?.slice(0, 200) ?? ""} ${JSON.stringify(rest).slice(0, 200)}`;
      } catch {
        return line.slice(0, 300);
      }
    })
    .join("\n");
}
