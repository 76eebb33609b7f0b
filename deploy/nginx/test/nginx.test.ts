import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { WEB_SECURITY_HEADERS } from "@taskflow/api";
import {
  createTestDatabase,
  engineAvailable,
  freePort,
  killAllRoles,
  type RoleProcess,
  runMigrations,
  signUp,
  startRole,
  type TestDatabase,
  waitFor,
} from "@taskflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkNginxConf, type NginxRun, nginxForTests, startNginx } from "./nginx-fixture.ts";

/**
 * deploy/nginx/nginx.conf with Debian's nginx in front of a running `taskflow api` (on this
 * run's own PostgreSQL database): the web app's pages and assets from disk, /api and its
 * Server-Sent Events proxied. Skipped without nginx (or PostgreSQL), unless
 * TASKFLOW_REQUIRE_SERVICES=1.
 */
const nginx = nginxForTests();
const postgres = nginx ? await engineAvailable("postgres") : false;

const ASSET = "/assets/app.abc123.js";
const INDEX_MARKER = "<!-- the TaskFlow web app (a stand-in) -->";

/** A built app as Vite leaves it: index.html and a hashed asset, each worth compressing. */
function fakeWebApp(): string {
  const root = mkdtempSync(path.join(tmpdir(), "taskflow-nginx-web-"));
  mkdirSync(path.join(root, "assets"));
  writeFileSync(
    path.join(root, "index.html"),
    `<!doctype html>\n${INDEX_MARKER}\n<html><head><title>TaskFlow</title>` +
      `<script type="module" src="${ASSET}"></script></head>` +
      `<body><div id="root"></div>${"<!-- padding -->".repeat(40)}</body></html>\n`,
  );
  writeFileSync(
    path.join(root, ASSET),
    `export const app = ${JSON.stringify("x".repeat(2_000))};\n`,
  );
  // Started as root, nginx's workers run as another user: they must read it.
  chmodSync(root, 0o755);
  chmodSync(path.join(root, "assets"), 0o755);
  return root;
}

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request without fetch's automatic Accept-Encoding and decompression. */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: options.method ?? "GET",
      headers: options.headers,
    });
    request.setTimeout(10_000, () => request.destroy(new Error(`timed out: ${url}`)));
    request.once("error", reject);
    request.once("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.once("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks),
        }),
      );
      response.once("error", reject);
    });
    request.end(options.body);
  });
}

const HTML = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };

function expectSecurityHeaders(headers: http.IncomingHttpHeaders) {
  for (const [name, value] of Object.entries(WEB_SECURITY_HEADERS)) {
    expect(headers[name], name).toBe(value);
  }
}

describe.skipIf(!nginx)("deploy/nginx/nginx.conf, checked", () => {
  it("when rendered with a test's port, API servers and web root, then `nginx -t` accepts it", async () => {
    const root = fakeWebApp();
    try {
      const report = await checkNginxConf(nginx ?? "nginx", {
        port: await freePort(),
        upstreams: ["127.0.0.1:1", "127.0.0.1:2"],
        root,
      });
      expect(report).toMatch(/syntax is ok/);
      expect(report).toMatch(/test is successful/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!nginx || !postgres)("nginx in front of a running API", () => {
  let root: string;
  let database: TestDatabase;
  let api: RoleProcess;
  let proxy: NginxRun;

  beforeAll(async () => {
    root = fakeWebApp();
    database = await createTestDatabase("taskflow_nginx");
    const env = {
      TASKFLOW_DATABASE_URL: database.url,
      TASKFLOW_JWT_SECRET: randomBytes(32).toString("base64url"),
      TASKFLOW_LOG_LEVEL: "warn",
      TASKFLOW_TRUST_PROXY: "true",
      TASKFLOW_WEB_DIR: root,
    };
    await runMigrations(env);
    // Generous: the API compiles its sources (tsx) as it starts, slow on a busy machine.
    api = await startRole("api", env, { readyTimeoutMs: 120_000 });
    proxy = await startNginx(nginx ?? "nginx", {
      port: await freePort(),
      upstreams: [api.address],
      root,
    });
  }, 240_000);

  afterAll(async () => {
    await proxy?.stop();
    await api?.stop().catch(() => {});
    await killAllRoles();
    await database?.drop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("when a browser opens /, then it gets index.html with the security headers, revalidated on each use — the same headers as the API's", async () => {
    const page = await raw(`${proxy.url}/`, { headers: HTML });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body.toString()).toContain(INDEX_MARKER);
    expect(page.headers["cache-control"]).toBe("no-cache");
    expectSecurityHeaders(page.headers);

    const direct = await raw(`${api.url}/`, { headers: HTML });
    expect(direct.body.toString()).toContain(INDEX_MARKER);
    expectSecurityHeaders(direct.headers);
  });

  it("when a browser opens a deep link of the app, then it gets index.html (history fallback)", async () => {
    for (const link of ["/some/deep/link", "/tasks/0b7c6a1e-3f7e-4a53-9e43-bd6c06e1f3a0?tab=log"]) {
      const page = await raw(`${proxy.url}${link}`, { headers: HTML });
      expect(page.status, link).toBe(200);
      expect(page.body.toString(), link).toContain(INDEX_MARKER);
      expect(page.headers["cache-control"], link).toBe("no-cache");
      expectSecurityHeaders(page.headers);
    }
  });

  it("when a hashed asset is fetched, then it is cached for a year as immutable; a missing one is a 404, never the page", async () => {
    const asset = await raw(`${proxy.url}${ASSET}`);
    expect(asset.status).toBe(200);
    expect(asset.headers["content-type"]).toMatch(/javascript/);
    expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expectSecurityHeaders(asset.headers);

    const missing = await raw(`${proxy.url}/assets/app.000000.js`, { headers: HTML });
    expect(missing.status).toBe(404);
    expect(missing.body.toString()).not.toContain(INDEX_MARKER);
    expect(missing.headers["cache-control"]).toBeUndefined();
  });

  it("when the client accepts gzip, then pages, assets and API answers are compressed; otherwise not", async () => {
    for (const target of ["/", ASSET]) {
      const zipped = await raw(`${proxy.url}${target}`, { headers: { "accept-encoding": "gzip" } });
      expect(zipped.headers["content-encoding"], target).toBe("gzip");
      expect(zipped.headers.vary, target).toMatch(/accept-encoding/i);
      const plain = await raw(`${proxy.url}${target}`);
      expect(plain.headers["content-encoding"], target).toBeUndefined();
      expect(gunzipSync(zipped.body).equals(plain.body), target).toBe(true);
    }
  });

  it("when /api is asked, then the API answers through nginx (its problem+json, under nginx's request id); an unknown /api path is the API's 404, not the app", async () => {
    const me = await raw(`${proxy.url}/api/auth/me`, { headers: HTML });
    expect(me.status).toBe(401);
    expect(me.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(me.body.toString())).toMatchObject({ status: 401 });
    // The API names each request by the X-Request-Id nginx sends (32 hex digits).
    expect(me.headers["x-request-id"]).toMatch(/^[0-9a-f]{32}$/);
    expect(me.headers["cache-control"]).toBeUndefined();

    const unknown = await raw(`${proxy.url}/api/no/such/route`, { headers: HTML });
    expect(unknown.status).toBe(404);
    expect(unknown.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(unknown.body.toString()).not.toContain(INDEX_MARKER);
  });

  it("when a request body is over 1 MiB, then nginx refuses it with 413 problem+json", async () => {
    const answer = await raw(`${proxy.url}/api/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "big@example.com", password: "x".repeat(1024 * 1024 + 1) }),
    });
    expect(answer.status).toBe(413);
    expect(answer.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ status: 413 });
    expect(answer.headers["x-request-id"]).toBeUndefined();
  });

  it("when /healthz is asked, then nginx answers it itself", async () => {
    const health = await raw(`${proxy.url}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString())).toEqual({ status: "ok" });
    // Every answer of the API carries x-request-id: this one did not come from it.
    expect(health.headers["x-request-id"]).toBeUndefined();
  });

  it("when a client listens to /api/events through nginx, then a task's event reaches it promptly, uncompressed", async () => {
    const { client } = await signUp(proxy.url);
    const received: string[] = [];
    let headers: http.IncomingHttpHeaders | undefined;
    const request = http.get(`${proxy.url}/api/events`, {
      headers: {
        accept: "text/event-stream",
        "accept-encoding": "gzip",
        authorization: `Bearer ${client.token}`,
      },
    });
    request.on("error", () => {});
    request.on("response", (response) => {
      headers = response.headers;
      response.setEncoding("utf8").on("data", (chunk: string) => received.push(chunk));
    });
    try {
      await waitFor(() => received.join("").includes(": connected"), { what: "the stream open" });
      expect(headers?.["content-type"]).toMatch(/^text\/event-stream/);
      expect(headers?.["content-encoding"]).toBeUndefined();

      // Well before the API's next heartbeat comment (15 s), which would push out a buffer.
      const task = await client.createTask({ type: "sleep", payload: { ms: 10 } });
      await waitFor(() => received.join("").includes(`"id":"${task.id}"`), {
        timeoutMs: 5_000,
        what: `the task.updated event of ${task.id}`,
      });
      expect(received.join("")).toMatch(/event: task\.updated\ndata: /);
    } finally {
      request.destroy();
    }
  });

  it("when the API cannot be reached, then /api answers 503 problem+json and the app still loads", async () => {
    await api.stop();
    const me = await raw(`${proxy.url}/api/auth/me`);
    expect(me.status).toBe(503);
    expect(me.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(me.body.toString())).toMatchObject({ status: 503 });

    const page = await raw(`${proxy.url}/tasks`, { headers: HTML });
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain(INDEX_MARKER);
  });
});
