import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPOSE_ENGINES, TASKFLOW_ROLES } from "../../support/settings.ts";
import {
  buildProjectImages,
  containers,
  down,
  healthy,
  leftovers,
  makeBaseImages,
  makeKafkaImage,
  type Stack,
  sh,
  stackSettings,
  up,
  waitHealthy,
} from "./stack.ts";

/**
 * The whole stack of compose.yaml, up with podman (`npm run test:compose`; minutes, so not in
 * `npm test`), used through nginx only, as a person with a browser would: account, task,
 * order, notification, email; then the workers are killed under a task in flight; then
 * `down -v`, and nothing of the project may be left.
 */

const WORKERS = 4; // as `docker compose up --scale worker=4`
const PROJECT = `taskflow-e2e-${randomBytes(3).toString("hex")}`;
const log = (message: string) => console.log(`[compose e2e] ${message}`);
const timings: Record<string, number> = {};

async function timed<T>(step: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await work();
  } finally {
    timings[step] = Math.round((Date.now() - started) / 1000);
    log(`${step}: ${timings[step]} s`);
  }
}

let stack: Stack;
let torndown = false;

beforeAll(async () => {
  await timed("base images (make-images.sh)", makeBaseImages);
  await timed("kafka stand-in", () => makeKafkaImage(log));
  await timed("project images", () => buildProjectImages(log));
  await timed("up, healthy", async () => {
    // A host port taken meanwhile by another program fails the start: again, on other ports.
    for (let attempt = 1; ; attempt++) {
      stack = await stackSettings(PROJECT, WORKERS);
      log(`project ${PROJECT}, nginx on ${stack.baseUrl}`);
      try {
        await up(stack);
        break;
      } catch (error) {
        const left = await down(stack);
        if (attempt === 2 || left.length > 0) throw error;
        log(`up failed (${String(error)}); again on other ports`);
      }
    }
    // compose-up-healthy.py starts one container per service: the other workers here.
    const workers = (await containers(PROJECT)).worker ?? [];
    for (const worker of workers) await sh("podman", ["start", worker]);
    for (const worker of workers) await waitHealthy(worker);
  });
}, 60 * 60_000);

afterAll(async () => {
  if (stack && !torndown) await down(stack);
  log(`timings (s): ${JSON.stringify(timings)}`);
}, 5 * 60_000);

// ---- a client of the stack, through nginx ------------------------------------------------------

let token = "";

async function api<T>(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Task {
  id: string;
  status: string;
  attempts: number;
}

const waitForStatus = (id: string, status: string, timeoutMs?: number) =>
  eventually(
    `task ${id} ${status}`,
    async () => {
      const { body } = await api<Task>("GET", `/api/tasks/${id}`);
      return body.status === status ? body : undefined;
    },
    timeoutMs,
  );

const email = `ada-${randomBytes(4).toString("hex")}@example.com`;
const password = "correct horse battery";

describe("compose.yaml, up with podman", () => {
  it("has every service healthy, the migration exited 0, and the workers scaled", async () => {
    const byService = await containers(PROJECT);
    expect(Object.keys(byService).sort()).toEqual(
      [...COMPOSE_ENGINES, "migrate", ...TASKFLOW_ROLES, "nginx"].sort(),
    );
    expect(byService.worker).toHaveLength(WORKERS);
    for (const [service, names] of Object.entries(byService)) {
      for (const name of names) {
        if (service === "migrate") {
          const state = await sh("podman", [
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            name,
          ]);
          expect(state.trim(), name).toBe("exited 0");
        } else {
          expect(await healthy(name), `${name} healthy`).toBe(true);
        }
      }
    }
  });

  it("runs the project's images as non-root users", async () => {
    const byService = await containers(PROJECT);
    for (const service of [...TASKFLOW_ROLES, "nginx", "kafka"]) {
      const name = byService[service]?.[0] as string;
      const uid = (await sh("podman", ["exec", name, "id", "-u"])).trim();
      expect(uid, service).not.toBe("0");
      const image = (await sh("podman", ["inspect", "-f", "{{.ImageName}}", name])).trim();
      const user = (
        await sh("podman", ["image", "inspect", "-f", "{{.Config.User}}", image])
      ).trim();
      expect(user, `${image} USER`).not.toMatch(/^(|0|root)(:|$)/);
    }
  });

  it("registers a user and logs in, through nginx", async () => {
    const registered = await api<{ id: string }>("POST", "/api/auth/register", {
      email,
      password,
      name: "Ada",
    });
    expect(registered.status).toBe(201);
    const login = await api<{ access_token: string }>("POST", "/api/auth/login", {
      email,
      password,
    });
    expect(login.status).toBe(200);
    token = login.body.access_token;
    const me = await api<{ email: string }>("GET", "/api/auth/me");
    expect(me.body.email).toBe(email);
  });

  it("runs a submitted task to DONE", async () => {
    const created = await api<Task>("POST", "/api/tasks", {
      type: "echo",
      title: "hello",
      payload: { hello: "compose" },
    });
    expect(created.status).toBe(202);
    await waitForStatus(created.body.id, "DONE");
  });

  it("prices an order and notifies the user of it", async () => {
    // While the stack is still starting on two cores, the API's first gRPC calls can miss
    // their 2 s deadline: it answers 503 with Retry-After (nothing stored), and a client tries
    // again, as this one does (seen once in CI: the api took 41 s to be healthy).
    const unlessUnavailable = <T>(answer: { status: number; body: T }) =>
      answer.status === 503 ? undefined : answer;
    const products = await eventually("the product catalog", async () =>
      unlessUnavailable(await api<{ sku: string; stock: number }[]>("GET", "/api/products")),
    );
    expect(products.status).toBe(200);
    const product = products.body.find((p) => p.stock >= 10);
    expect(product).toBeDefined();
    const order = await eventually("the order answered", async () =>
      unlessUnavailable(
        await api<{ id: string }>("POST", "/api/orders", {
          items: [{ sku: product?.sku, quantity: 1 }],
        }),
      ),
    );
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    const notification = await eventually("a notification of the order", async () => {
      const { body } = await api<{ items: { data: Record<string, unknown>; title: string }[] }>(
        "GET",
        "/api/notifications",
      );
      return body.items.find((n) => JSON.stringify(n.data).includes(order.body.id));
    });
    expect(notification.title).toBeTruthy();
  });

  it("delivers the welcome email to the mail catcher (the mail sink, in the web app's Mail page)", async () => {
    const mail = await eventually("the welcome email", async () => {
      const { body } = await api<{ items: { to: string; subject: string }[] }>(
        "GET",
        "/api/dev/mail?limit=100",
      );
      return body.items.find((m) => m.to.includes(email) && /welcome/i.test(m.subject));
    });
    expect(mail.subject).toMatch(/Ada/);
    // The page that shows it is the web app's, served by nginx.
    const page = await fetch(`${stack.baseUrl}/mail`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<div id="root"|<script/);
  });

  it("ends a task DONE once when its worker is killed while running it and started again", async () => {
    const before = await api<Record<string, number>>("GET", "/api/tasks/stats");
    // Attempts to spare: a worker not yet killed may take the redelivered task over, once.
    const created = await api<Task>("POST", "/api/tasks", {
      type: "sleep",
      title: "in flight",
      payload: { ms: 8_000 },
      max_attempts: 5,
    });
    expect(created.status).toBe(202);
    await waitForStatus(created.body.id, "PROCESSING", 30_000);
    // The task is held by one of the workers: kill every one of them (SIGKILL, no draining).
    const workers = (await containers(PROJECT)).worker ?? [];
    const state = async (worker: string) =>
      (
        await sh("podman", ["inspect", "-f", "{{.State.Status}} {{.State.StartedAt}}", worker])
      ).trim();
    const startedBefore = await Promise.all(workers.map(state));
    // All in one command: one by one, the task would hop to the next worker each time and use
    // up its attempts (each takeover is one).
    await sh("podman", ["kill", "--signal", "KILL", ...workers]);
    // Started again: by hand once it has exited, unless its restart policy was first.
    for (const [i, worker] of workers.entries()) {
      await eventually(`${worker} killed`, async () => {
        const now = await state(worker);
        if (now.startsWith("exited")) await sh("podman", ["start", worker]);
        else if (now === startedBefore[i]) return undefined;
        return now;
      });
    }
    for (const worker of workers) await waitHealthy(worker);
    const done = await waitForStatus(created.body.id, "DONE", 120_000);
    // Run again after the kill: a new attempt.
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 3_000));
    const after = await api<Record<string, number>>("GET", "/api/tasks/stats");
    expect(after.body.DONE).toBe((before.body.DONE ?? 0) + 1);
    expect(after.body.PROCESSING ?? 0).toBe(0);
    const again = await api<Task>("GET", `/api/tasks/${created.body.id}`);
    expect(again.body.status).toBe("DONE");
    expect(again.body.attempts).toBe(done.attempts);
  });

  it("goes down with `down -v`, leaving nothing behind", async () => {
    const left = await down(stack);
    torndown = true;
    expect(left).toEqual([]);
    expect(await leftovers(PROJECT)).toEqual([]);
  });
});
