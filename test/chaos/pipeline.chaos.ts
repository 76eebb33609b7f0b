import { type RoleProcess, startRole } from "@taskflow/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type Cluster,
  diesAtFailpoint,
  expectClean,
  runScenario,
  sleep,
  startCluster,
} from "./cluster.ts";

/**
 * The task pipeline under faults: processes SIGKILLed at every failpoint and at random,
 * RabbitMQ and PostgreSQL crashed and restarted, sockets blackholed. Every scenario is
 * checked by the ledger: 0 lost, 0 duplicated, 0 stuck. The control runs break one rule of
 * the pipeline on purpose, and the checker must see the loss.
 */
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await cluster?.close();
});

// Each scenario starts from a whole pipeline (a relay, two workers), whatever the one before
// left running: a failed scenario must not take the next ones down with it.
beforeEach(async () => {
  if (!cluster.relay) await cluster.startRelay();
  while (cluster.workers.length < 2) await cluster.startWorker();
});

describe("control runs: a pipeline that breaks a rule is caught", () => {
  it("a worker that acknowledges before committing loses tasks when it is SIGKILLed", async () => {
    await cluster.killWorkers();
    const control = await cluster.startControl("ack-first-worker");
    const report = await runScenario(
      cluster,
      "control: ack before commit",
      async () => {
        await sleep(4_000);
        await control.kill();
        await cluster.startWorker();
        await cluster.startWorker();
      },
      { taskMs: 1_000, settleTimeoutMs: 20_000 },
    );
    expect(report.lost).toBeGreaterThan(0);
    expect(report.stuck).toBeGreaterThan(0);
  });

  it("a relay without publisher confirms loses tasks when its socket goes dead", async () => {
    await cluster.relay?.stop();
    const control = await cluster.startControl("unconfirmed-relay");
    const report = await runScenario(
      cluster,
      "control: publish without confirms",
      async () => {
        await sleep(2_000);
        cluster.proxy.set("blackhole");
        await sleep(4_000);
        await control.kill();
        cluster.proxy.set("reset");
        cluster.proxy.set("pass");
        await cluster.startRelay();
      },
      { settleTimeoutMs: 20_000 },
    );
    expect(report.lost).toBeGreaterThan(0);
  });
});

describe("workers", () => {
  it("workers SIGKILLed every few seconds under load: nothing lost, nothing done twice", async () => {
    const report = await runScenario(cluster, "workers SIGKILLed every ~3 s", async () => {
      // Two workers; every few seconds the older one is SIGKILLed while it holds tasks,
      // and a replacement started (under load: its start-up is part of the outage).
      for (let round = 0; round < 6; round++) {
        await sleep(3_000);
        await cluster.workers[0]?.kill();
        await cluster.startWorker();
      }
    });
    expectClean(report);
  });

  for (const site of ["worker.after-claim", "worker.after-effect", "worker.after-commit"]) {
    it(`a worker killed by the ${site} failpoint: its tasks are taken over`, async () => {
      await cluster.killWorkers();
      let kills = 0;
      const report = await runScenario(cluster, `failpoint ${site}`, async () => {
        for (let i = 0; i < 3; i++) {
          if (await diesAtFailpoint(() => cluster.startWorker({ TASKFLOW_FAILPOINT: site })))
            kills++;
        }
        await cluster.startWorker();
        await cluster.startWorker();
        await sleep(2_000);
      });
      expect(kills).toBe(3);
      expectClean(report);
    });
  }
});

describe("between the commit and the publish", () => {
  it("the relay killed after a publish, before deleting the outbox rows: published again, run once", async () => {
    await cluster.relay?.stop();
    let kills = 0;
    const report = await runScenario(cluster, "failpoint relay.after-publish", async () => {
      for (let i = 0; i < 3; i++) {
        const armed = () => cluster.startRelay({ TASKFLOW_FAILPOINT: "relay.after-publish" });
        if (await diesAtFailpoint(armed)) kills++;
      }
      await cluster.startRelay();
      await sleep(2_000);
    });
    expect(kills).toBe(3);
    expectClean(report);
  });

  it("the API killed after its commit, before answering: the task runs, the client learns nothing", async () => {
    let kills = 0;
    const armed = { ...cluster.env, TASKFLOW_FAILPOINT: "api.after-commit" };
    // Ready before the load starts (no POST yet), so its port is known.
    const first = await startRole("api", armed);
    const startApi = (env: Parameters<typeof startRole>[1]) =>
      startRole("api", env, { port: first.port });
    let api: RoleProcess | undefined;
    const report = await runScenario(
      cluster,
      "failpoint api.after-commit",
      async () => {
        if (await diesAtFailpoint(async () => first)) kills++;
        for (let i = 0; i < 2; i++) if (await diesAtFailpoint(() => startApi(armed))) kills++;
        api = await startApi(cluster.env);
        await sleep(3_000);
      },
      { apiUrl: first.url },
    );
    await api?.stop();
    expect(kills).toBe(3);
    expect(report.unknown).toBeGreaterThan(0);
    expect(report.recovered).toBeGreaterThan(0);
    expectClean(report);
  });
});

describe("RabbitMQ", () => {
  it("kill -9 of RabbitMQ and a restart: confirmed messages survive, unconfirmed ones are published again", async () => {
    const report = await runScenario(cluster, "RabbitMQ kill -9", async () => {
      await sleep(3_000);
      await cluster.rabbit.kill();
      await sleep(3_000);
      await cluster.rabbit.start();
      await sleep(5_000);
    });
    expectClean(report);
  });

  it("RabbitMQ stop_app / start_app", async () => {
    const report = await runScenario(cluster, "RabbitMQ stop_app/start_app", async () => {
      await sleep(3_000);
      await cluster.rabbit.stopApp();
      await sleep(3_000);
      await cluster.rabbit.startApp();
      await sleep(5_000);
    });
    expectClean(report);
  });

  it("a blackholed RabbitMQ socket, then reset: the relay and workers reconnect", async () => {
    const report = await runScenario(cluster, "RabbitMQ socket blackholed", async () => {
      await sleep(2_000);
      cluster.proxy.set("blackhole");
      await sleep(8_000);
      cluster.proxy.set("reset");
      cluster.proxy.set("pass");
      await sleep(5_000);
    });
    expectClean(report);
  });
});

describe("PostgreSQL", () => {
  it("pg_ctl stop -m immediate and a restart: 503 with Retry-After meanwhile, /healthz 200, /readyz 503", async () => {
    const during: {
      post?: number;
      retryAfter?: string | null;
      ms?: number;
      healthz?: number;
      readyz?: number;
    } = {};
    const report = await runScenario(
      cluster,
      "PostgreSQL stop -m immediate",
      async ({ client }) => {
        await sleep(3_000);
        await cluster.pg.stopImmediate();
        await sleep(1_000);
        const started = Date.now();
        const answer = await client.request("POST", "/api/tasks", {
          type: "chaos.effect",
          payload: { ms: 0 },
          title: "probe while PostgreSQL is down",
        });
        during.ms = Date.now() - started;
        during.post = answer.status;
        during.retryAfter = answer.headers.get("retry-after");
        during.healthz = (await fetch(`${cluster.api.url}/healthz`)).status;
        during.readyz = (await fetch(`${cluster.api.url}/readyz`)).status;
        await sleep(2_000);
        await cluster.pg.start();
        await sleep(5_000);
      },
    );
    console.info("while PostgreSQL was down:", during);
    expect(during.post).toBe(503);
    expect(during.retryAfter).toBeTruthy();
    expect(during.ms).toBeLessThan(2_000);
    expect(during.healthz).toBe(200);
    expect(during.readyz).toBe(503);
    expectClean(report);
  });
});
