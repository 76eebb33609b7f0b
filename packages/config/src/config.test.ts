import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./index.ts";

describe("loadConfig", () => {
  it("runs on embedded engines with no variables at all", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ host: "127.0.0.1", port: 8080, isProduction: false });
    expect(config.database.url).toBeUndefined();
    expect(config.amqp.url).toBeUndefined();
    expect(config.database.dataDir).toBe("./.taskflow");
  });

  it("stops on a bad value, naming the variable and what it got", () => {
    expect(() => loadConfig({ TASKFLOW_PORT: "eighty" })).toThrow(ConfigError);
    expect(() => loadConfig({ TASKFLOW_PORT: "eighty" })).toThrow(/TASKFLOW_PORT.*"eighty"/);
    expect(() => loadConfig({ TASKFLOW_DATABASE_URL: "mysql://x" })).toThrow(
      /TASKFLOW_DATABASE_URL/,
    );
    expect(() => loadConfig({ TASKFLOW_WORKER_CONCURRENCY: "0" })).toThrow(
      /TASKFLOW_WORKER_CONCURRENCY/,
    );
  });

  it("reads the admin list lower-cased and refuses a bad email in it; switches jobs and mail to real engines", () => {
    const config = loadConfig({
      TASKFLOW_ADMIN_EMAILS: " Ops@Example.com, root@example.com ,",
      TASKFLOW_REDIS_URL: "redis://127.0.0.1:6379",
      TASKFLOW_SMTP_URL: "smtp://127.0.0.1:1025",
    });
    expect(config.auth.adminEmails).toEqual(["ops@example.com", "root@example.com"]);
    expect(config.jobs.redisUrl).toBe("redis://127.0.0.1:6379");
    expect(config.mail.smtpUrl).toBe("smtp://127.0.0.1:1025");
    expect(loadConfig({}).auth.adminEmails).toEqual([]);
    expect(() => loadConfig({ TASKFLOW_ADMIN_EMAILS: "ops@example.com,nobody" })).toThrow(
      /TASKFLOW_ADMIN_EMAILS/,
    );
    expect(() => loadConfig({ TASKFLOW_SMTP_URL: "http://mail" })).toThrow(/TASKFLOW_SMTP_URL/);
  });

  it("lists every bad variable at once", () => {
    try {
      loadConfig({ TASKFLOW_PORT: "-1", TASKFLOW_LOG_LEVEL: "loud" });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2);
    }
  });

  it("refuses production without a JWT secret, and a short secret anywhere", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(/TASKFLOW_JWT_SECRET/);
    expect(() => loadConfig({ TASKFLOW_JWT_SECRET: "short" })).toThrow(/TASKFLOW_JWT_SECRET/);
    const config = loadConfig({ NODE_ENV: "production", TASKFLOW_JWT_SECRET: "x".repeat(40) });
    expect(config.auth.cookieSecure).toBe(true);
  });

  it("treats empty strings as unset", () => {
    expect(loadConfig({ TASKFLOW_AMQP_URL: "", TASKFLOW_PORT: "" }).port).toBe(8080);
  });

  it("takes a nice value from -20 to 19 and refuses anything else, naming TASKFLOW_NICE", () => {
    expect(loadConfig({}).nice).toBeUndefined();
    expect(loadConfig({ TASKFLOW_NICE: "10" }).nice).toBe(10);
    expect(loadConfig({ TASKFLOW_NICE: "-20" }).nice).toBe(-20);
    for (const bad of ["20", "-21", "1.5", "low"]) {
      expect(() => loadConfig({ TASKFLOW_NICE: bad })).toThrow(/TASKFLOW_NICE/);
    }
  });

  it("derives the prefetch from the concurrency unless set", () => {
    expect(loadConfig({ TASKFLOW_WORKER_CONCURRENCY: "100" }).worker.prefetch).toBe(200);
    expect(loadConfig({ TASKFLOW_WORKER_PREFETCH: "7" }).worker.prefetch).toBe(7);
  });
});

describe("TASKFLOW_STREAM_URL", () => {
  it("is unset (embedded) by default and takes a Kafka broker list, Redis or NATS", () => {
    expect(loadConfig({}).stream.url).toBeUndefined();
    for (const url of [
      "kafka://127.0.0.1:9092",
      "kafka://k1:9092,k2:9092,[::1]:9093",
      "redis://127.0.0.1:6379/2",
      "rediss://user:secret@cache.example.com:6380",
      "nats://127.0.0.1:4222",
      "nats://token@n1:4222,nats://n2:4222",
    ]) {
      expect(loadConfig({ TASKFLOW_STREAM_URL: url }).stream.url).toBe(url);
    }
  });

  it("refuses other schemes and malformed broker lists at start-up", () => {
    for (const url of [
      "amqp://127.0.0.1",
      "kafka://",
      "kafka://k1:9092,,k2",
      "kafka://k 1",
      "redis://",
      "nats",
    ]) {
      expect(() => loadConfig({ TASKFLOW_STREAM_URL: url }), url).toThrow(/TASKFLOW_STREAM_URL/);
    }
  });
});
