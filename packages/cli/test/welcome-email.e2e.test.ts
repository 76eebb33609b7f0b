import {
  ApiClient,
  engineAvailable,
  killAllRoles,
  newCredentials,
  type RoleProcess,
  startRole,
  startTestSmtpServer,
  type TestSmtpServer,
  uniqueName,
  waitFor,
} from "@taskflow/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRealEngines, type RealEngines, realEnginesAvailable } from "./e2e-fixture.ts";

/**
 * Registration → outbox → relay → job on Redis (BullMQ) → mailer → a real SMTP server, with
 * api, relay and mailer as separate processes; the register call never waits for the email.
 */
const redisUrl = process.env.TASKFLOW_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const available = (await realEnginesAvailable()) && (await engineAvailable("redis"));

describe.skipIf(!available)("the welcome email on PostgreSQL, Redis and SMTP", () => {
  let engines: RealEngines;
  let smtp: TestSmtpServer;
  let api: RoleProcess;
  let mailer: RoleProcess;
  const jobQueue = uniqueName("e2e.jobs");
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    engines = await openRealEngines("mail");
    smtp = await startTestSmtpServer();
    env = {
      ...engines.env,
      TASKFLOW_REDIS_URL: redisUrl,
      TASKFLOW_JOB_QUEUE: jobQueue,
      TASKFLOW_SMTP_URL: smtp.url,
      TASKFLOW_MAIL_FROM: "TaskFlow <hello@taskflow.test>",
    };
    [api, , mailer] = await Promise.all([
      startRole("api", env),
      startRole("relay", env),
      startRole("mailer", env),
    ]);
  }, 90_000);

  afterAll(async () => {
    await killAllRoles();
    await smtp?.stop();
    await engines?.cleanup();
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`*${jobQueue}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  }, 30_000);

  const register = (prefix: string) => {
    const credentials = newCredentials(prefix);
    return new ApiClient(api.url).register(credentials).then(() => credentials);
  };
  const mailTo = (email: string) =>
    smtp.received.filter((m) => m.to && JSON.stringify(m.to).includes(email));

  it("when a user registers, then exactly one welcome email reaches the SMTP server, addressed to them", async () => {
    const { email, name } = await register("welcome");
    const [mail] = await waitFor(() => (mailTo(email).length > 0 ? mailTo(email) : undefined), {
      timeoutMs: 20_000,
      what: "the welcome email",
    });
    expect(mail?.subject).toMatch(/welcome/i);
    expect(mail?.from?.text).toBe('"TaskFlow" <hello@taskflow.test>');
    expect(mail?.text).toContain(name);
    expect(mail?.html).toContain(name);
    expect(mail?.messageId).toMatch(/^<email\.welcome\.[0-9a-f-]+@taskflow\.test>$/);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // room for a duplicate
    expect(mailTo(email)).toHaveLength(1);
  }, 40_000);

  it("when the SMTP server is down at registration, then the email arrives once it is back", async () => {
    await smtp.stop();
    const { email } = await register("outage");
    // The mailer tries, fails (connection refused) and backs off while the server is away.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(mailTo(email)).toHaveLength(0);
    await smtp.start();
    await waitFor(() => mailTo(email).length > 0, {
      timeoutMs: 30_000,
      what: "the email after the outage",
    });
    expect(mailTo(email)).toHaveLength(1);
    expect(await mailer.stop("SIGTERM")).toEqual({ code: 0, signal: null });
  }, 60_000);

  it("when the mailer is SIGKILLed in the middle of sending, then another mailer delivers the email, and any duplicate carries the same Message-ID", async () => {
    // A server that takes its time to answer the message: the mailer dies while it waits.
    const slow = await startTestSmtpServer({ holdMs: 3_000 });
    const slowEnv = { ...env, TASKFLOW_SMTP_URL: slow.url, TASKFLOW_JOB_LEASE_MS: "2000" };
    try {
      const first = await startRole("mailer", slowEnv);
      const credentials = newCredentials("crash");
      await new ApiClient(api.url).register(credentials);
      await waitFor(() => slow.dataStarted > 0, { timeoutMs: 20_000, what: "the send to begin" });
      expect(await first.kill()).toEqual({ code: null, signal: "SIGKILL" });

      const second = await startRole("mailer", slowEnv);
      const copies = await waitFor(
        () => {
          const mine = slow.received.filter((m) =>
            JSON.stringify(m.to).includes(credentials.email),
          );
          return mine.length > 0 ? mine : undefined;
        },
        { timeoutMs: 45_000, what: "the email from the second mailer" },
      );
      expect(new Set(copies.map((m) => m.messageId)).size).toBe(1);
      expect(copies[0]?.messageId).toMatch(/^<email\.welcome\.[0-9a-f-]+@taskflow\.test>$/);
      expect(await second.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    } finally {
      await slow.stop();
    }
  }, 90_000);
});
