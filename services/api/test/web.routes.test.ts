import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createTokenService } from "@taskflow/auth";
import { loadConfig } from "@taskflow/config";
import { createDatabase, type DatabaseHandle } from "@taskflow/db";
import { createLogger, createMetrics } from "@taskflow/observability";
import { repoRoot, testEngines } from "@taskflow/testing";
import { taskHandlers } from "@taskflow/worker/handlers";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildApp } from "../src/app.ts";
import {
  IMMUTABLE_CACHE,
  REVALIDATE_CACHE,
  WEB_SECURITY_HEADERS,
} from "../src/modules/web/web.routes.ts";

/**
 * The API serving the built web app at / (TASKFLOW_WEB_DIR): a stand-in build in a temporary
 * folder, requests through app.inject. None of these requests reads the database: its handle
 * (a pool that connects on first use) never connects, and no engine needs to run.
 */
const INDEX = "<!doctype html><html><body><div id=root></div>the TaskFlow app</body></html>";
const ASSET = "assets/index.3f9a1c2b.js";
const HTML = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };

const folders: string[] = [];
function tempFolder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "taskflow-web-"));
  folders.push(dir);
  return dir;
}

/** A build as Vite leaves it (index.html, public files, hashed assets), and a secret beside it. */
function fakeBuild(): string {
  const parent = tempFolder();
  writeFileSync(path.join(parent, "secret.txt"), "not for the web");
  const root = path.join(parent, "dist");
  mkdirSync(path.join(root, "assets"), { recursive: true });
  writeFileSync(path.join(root, "index.html"), INDEX);
  writeFileSync(path.join(root, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
  writeFileSync(path.join(root, ASSET), "console.log('app');\n");
  writeFileSync(path.join(root, ".env"), "SECRET=1\n");
  return root;
}

let database: DatabaseHandle;
beforeAll(async () => {
  database = await createDatabase({ url: testEngines.postgresAdminUrl, dataDir: "unused" });
});
afterAll(async () => {
  await database?.close();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

async function appServing(webDir: string | undefined) {
  const logger = createLogger({ level: "silent", service: "web-test" });
  const warn = vi.spyOn(logger, "warn");
  const app = await buildApp({
    database,
    tokens: createTokenService({ secret: randomBytes(32).toString("hex"), ttlSeconds: 300 }),
    handlers: taskHandlers,
    logger,
    metrics: createMetrics("web-test"),
    checks: {},
    loginRateLimitPerMinute: 100,
    cookieSecure: false,
    webDir,
  });
  await app.ready();
  return { app, warn };
}

function expectProblem(
  response: { statusCode: number; headers: Record<string, unknown> },
  status: number,
) {
  expect(response.statusCode).toBe(status);
  expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
}

describe("the web app, served by the API", () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    ({ app } = await appServing(fakeBuild()));
  });
  afterAll(async () => {
    await app?.close();
  });

  it("when / is opened, then index.html answers, revalidated on every use, with the security headers", async () => {
    for (const url of ["/", "/index.html"]) {
      const page = await app.inject({ url, headers: HTML });
      expect(page.statusCode, url).toBe(200);
      expect(page.headers["content-type"], url).toMatch(/^text\/html/);
      expect(page.body, url).toBe(INDEX);
      expect(page.headers["cache-control"], url).toBe(REVALIDATE_CACHE);
      expect(page.headers).toMatchObject(WEB_SECURITY_HEADERS);
    }
    // Even when the client does not say it wants HTML: / is the app.
    expect((await app.inject({ url: "/" })).body).toBe(INDEX);
    const head = await app.inject({ method: "HEAD", url: "/" });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe("");
  });

  it("when a hashed asset is fetched, then it is cached for a year as immutable; other files are revalidated", async () => {
    const asset = await app.inject({ url: `/${ASSET}` });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["content-type"]).toMatch(/javascript/);
    expect(asset.headers["cache-control"]).toBe(IMMUTABLE_CACHE);
    expect(asset.headers).toMatchObject(WEB_SECURITY_HEADERS);
    expect(asset.headers.etag).toBeDefined();

    const icon = await app.inject({ url: "/favicon.svg" });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers["cache-control"]).toBe(REVALIDATE_CACHE);
  });

  it("when a browser opens a page of the app (a deep link, a reload), then index.html answers", async () => {
    for (const url of ["/tasks", "/tasks/42?tab=log", "/monitor/dead-letters/", "/apiary"]) {
      const page = await app.inject({ url, headers: HTML });
      expect(page.statusCode, url).toBe(200);
      expect(page.body, url).toBe(INDEX);
      expect(page.headers["cache-control"], url).toBe(REVALIDATE_CACHE);
      expect(page.headers).toMatchObject(WEB_SECURITY_HEADERS);
    }
  });

  it("when an unknown path is asked by something that does not want HTML, or is a missing asset, then it is a 404 problem", async () => {
    expectProblem(
      await app.inject({ url: "/tasks/42", headers: { accept: "application/json" } }),
      404,
    );
    expectProblem(await app.inject({ url: "/tasks/42" }), 404);
    // A missing hashed file is never the page (the browser would run HTML as a script).
    expectProblem(await app.inject({ url: "/assets/index.00000000.js", headers: HTML }), 404);
  });

  it("when a path of the API is unknown, then it stays a 404 problem, even for a browser", async () => {
    for (const url of [
      "/api",
      "/api/no/such/route",
      "/healthz/more",
      "/readyz/more",
      "/metrics/more",
      "/openapi.json/more",
    ]) {
      const answer = await app.inject({ url, headers: HTML });
      expectProblem(answer, 404);
      expect(answer.json(), url).toMatchObject({ status: 404, detail: `no route for GET ${url}` });
      expect(answer.headers["content-security-policy"], url).toBeUndefined();
    }
    expectProblem(await app.inject({ method: "POST", url: "/api/nope", headers: HTML }), 404);
    expectProblem(await app.inject({ method: "POST", url: "/tasks", headers: HTML }), 404);
  });

  it("when the API's own routes are asked, then they answer as before", async () => {
    expectProblem(await app.inject({ url: "/api/auth/me", headers: HTML }), 401);
    expect((await app.inject({ url: "/healthz", headers: HTML })).json()).toEqual({ status: "ok" });
    const openapi = await app.inject({ url: "/openapi.json" });
    expect(openapi.statusCode).toBe(200);
    expect(Object.keys(openapi.json<{ paths: object }>().paths)).not.toContain("/*");
    const docs = await app.inject({ url: "/docs/", headers: HTML });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).not.toBe(INDEX);
    expect((await app.inject({ url: "/metrics" })).statusCode).toBe(200);
  });

  it("when a path leaves the folder or names a dotfile, then nothing outside the app is served", async () => {
    for (const url of [
      "/%2e%2e/secret.txt",
      "/assets/%2e%2e/%2e%2e/secret.txt",
      "/.env",
      "/%2eenv",
    ]) {
      const answer = await app.inject({ url });
      expect(answer.statusCode, url).toBe(404);
      expect(answer.body, url).not.toMatch(/not for the web|SECRET/);
      const asBrowser = await app.inject({ url, headers: HTML });
      expect(asBrowser.body, url).not.toMatch(/not for the web|SECRET/);
    }
    const malformed = await app.inject({ url: "/%E0%A4%A", headers: HTML });
    expect(malformed.body).not.toMatch(/not for the web|SECRET/);
  });
});

describe("the web app, not built", () => {
  it("when the folder has no index.html, then the API warns once, serves no app, and works", async () => {
    const { app, warn } = await appServing(tempFolder());
    try {
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[1])).toMatch(/no web app/);
      const root = await app.inject({ url: "/", headers: HTML });
      expectProblem(root, 404);
      expect(root.json<{ detail: string }>().detail).toMatch(/npm run build -w @taskflow\/web/);
      expectProblem(await app.inject({ url: "/tasks", headers: HTML }), 404);
      expectProblem(await app.inject({ url: "/api/auth/me" }), 401);
      expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
      // Built later: served once the API starts again, not half-way.
    } finally {
      await app.close();
    }
  });

  it("when no folder is given, then nothing is served at / and nothing is warned", async () => {
    const { app, warn } = await appServing(undefined);
    try {
      expect(warn).not.toHaveBeenCalled();
      expectProblem(await app.inject({ url: "/", headers: HTML }), 404);
    } finally {
      await app.close();
    }
  });
});

describe("TASKFLOW_WEB_DIR", () => {
  it("defaults to this repository's services/web/dist, and reads a relative folder from the working directory", () => {
    expect(loadConfig({}).web.dir).toBe(path.join(repoRoot, "services/web/dist"));
    expect(loadConfig({ TASKFLOW_WEB_DIR: "build/web" }).web.dir).toBe(path.resolve("build/web"));
  });
});
