import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { SESSION_COOKIE } from "@taskflow/auth";
import { freePort, repoRoot, requireServices } from "@taskflow/testing";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NginxRun, nginxForTests, startNginx } from "../../deploy/nginx/test/nginx-fixture.ts";
import { enginesAvailable, type SecuritySystem, startSecuritySystem } from "./security-fixture.ts";

/**
 * deploy/nginx/nginx.conf, as deployed, in front of the API: every answer it gives (the app's
 * pages and files, its own errors and health, proxied API answers and event streams) carries
 * the security headers and no server version; the Content-Security-Policy suits the web app
 * as built from services/web (built here, into a folder of the test's), and a real browser
 * runs the app under it, same-origin fetch and event streams included, without a violation.
 */

const engines = await enginesAvailable();

const nginx = nginxForTests();
const CHROMIUM = "/usr/bin/chromium";
const chromiumPresent = existsSync(CHROMIUM);
if (!chromiumPresent && requireServices)
  throw new Error(`chromium is required (TASKFLOW_REQUIRE_SERVICES=1) but ${CHROMIUM} is missing`);
const run = promisify(execFile);

let webRoot = "";
let system: SecuritySystem | undefined;
let proxy: NginxRun | undefined;

beforeAll(async () => {
  if (!nginx || !engines) return;
  webRoot = mkdtempSync(path.join(tmpdir(), "taskflow-security-app-"));
  await run(
    "npx",
    [
      "vite",
      "build",
      "--config",
      "services/web/vite.config.ts",
      "--outDir",
      webRoot,
      "--emptyOutDir",
      "--logLevel",
      "warn",
    ],
    { cwd: repoRoot, timeout: 110_000 },
  );
  // Started as root, nginx's workers run as another user: they must read it.
  for (const dir of [webRoot, path.join(webRoot, "assets")]) chmodSync(dir, 0o755);
  system = await startSecuritySystem({ operators: 1, webRoot });
  proxy = await startNginx(nginx, {
    port: await freePort(),
    upstreams: [new URL(system.base).host],
    root: webRoot,
  });
});

afterAll(async () => {
  await proxy?.stop();
  await system?.close();
  if (webRoot) rmSync(webRoot, { recursive: true, force: true });
});

const running = () => {
  if (!proxy || !system) throw new Error("the system under attack did not start");
  return { proxy, system };
};

interface RawAnswer {
  status: number;
  /** Every header line as sent: a header sent twice shows twice. */
  headers: [string, string][];
}

/** One request, its raw header lines (fetch would merge duplicates); the body is dropped. */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
) {
  return new Promise<RawAnswer>((resolve, reject) => {
    const request = http.request(url, {
      method: options.method ?? "GET",
      headers: options.headers,
    });
    request.setTimeout(10_000, () => request.destroy(new Error(`timed out: ${url}`)));
    request.once("error", reject);
    request.once("response", (response) => {
      const lines: [string, string][] = [];
      for (let i = 0; i < response.rawHeaders.length; i += 2)
        lines.push([
          (response.rawHeaders[i] ?? "").toLowerCase(),
          response.rawHeaders[i + 1] ?? "",
        ]);
      resolve({ status: response.statusCode ?? 0, headers: lines });
      // An event stream never ends: the headers are what is checked.
      response.destroy();
    });
    request.end(options.body);
  });
}

const SAFE_REFERRER_POLICIES = [
  "no-referrer",
  "same-origin",
  "strict-origin",
  "strict-origin-when-cross-origin",
];

/** What is missing or wrong in an answer's security headers. */
function headerProblems(answer: RawAnswer): string[] {
  const problems: string[] = [];
  const all = (name: string) => answer.headers.filter(([n]) => n === name).map(([, v]) => v);
  for (const name of ["content-security-policy", "x-content-type-options", "referrer-policy"]) {
    if (all(name).length !== 1) problems.push(`${name} sent ${all(name).length} times`);
  }
  if (all("x-content-type-options")[0] !== "nosniff")
    problems.push("x-content-type-options is not nosniff");
  const referrer = all("referrer-policy")[0] ?? "";
  if (!SAFE_REFERRER_POLICIES.includes(referrer)) problems.push(`referrer-policy "${referrer}"`);
  const csp = all("content-security-policy")[0] ?? "";
  const frameOptions = all("x-frame-options");
  if (
    !/frame-ancestors '(none|self)'/.test(csp) &&
    !(frameOptions.length === 1 && /^(DENY|SAMEORIGIN)$/i.test(frameOptions[0] ?? ""))
  )
    problems.push("framing allowed: neither X-Frame-Options nor CSP frame-ancestors");
  const server = all("server");
  if (server.some((s) => /\d/.test(s)))
    problems.push(`server "${server.join(", ")}" names a version`);
  if (all("x-powered-by").length > 0) problems.push("x-powered-by sent");
  return problems;
}

const cspOf = (answer: RawAnswer) =>
  new Map(
    (answer.headers.find(([n]) => n === "content-security-policy")?.[1] ?? "")
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name = "", ...sources]) => [name, sources] as const),
  );

describe.skipIf(!nginx || !engines)("nginx's security headers", () => {
  it("are on every kind of answer nginx gives, once each, with no server version", async () => {
    const { proxy, system } = running();
    const asset = readdirSync(path.join(webRoot, "assets")).find((f) => f.endsWith(".js"));
    const user = await system.account("user");
    const html = { accept: "text/html" };
    const requests: [string, Parameters<typeof raw>[1]?][] = [
      ["/", { headers: html }],
      ["/tasks/some-task", { headers: html }],
      [`/assets/${asset}`],
      ["/assets/missing-0000.js"],
      ["/favicon.svg"],
      ["/healthz"],
      ["/api/products"],
      ["/api/tasks"],
      ["/api/tasks", { headers: { authorization: `Bearer ${user.token}` } }],
      ["/api/no-such-route"],
      ["/api/events"],
      ["/api/events", { headers: { cookie: `${SESSION_COOKIE}=${user.token}` } }],
      ["/api/monitor/events", { headers: { authorization: `Bearer ${user.token}` } }],
      [
        "/api/tasks",
        {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${user.token}` },
          body: Buffer.alloc(2 * 1024 * 1024, 0x20),
        },
      ],
    ];
    const seen: string[] = [];
    const problems: string[] = [];
    for (const [url, options] of requests) {
      const answer = await raw(`${proxy.url}${url}`, options);
      seen.push(`${options?.method ?? "GET"} ${url} ${answer.status}`);
      for (const problem of headerProblems(answer))
        problems.push(`${url} (${answer.status}): ${problem}`);
    }
    // The kinds of answer wanted: pages, files, nginx's own errors, proxied answers and streams.
    expect(seen).toEqual([
      "GET / 200",
      "GET /tasks/some-task 200",
      `GET /assets/${asset} 200`,
      "GET /assets/missing-0000.js 404",
      "GET /favicon.svg 200",
      "GET /healthz 200",
      "GET /api/products 200",
      "GET /api/tasks 401",
      "GET /api/tasks 200",
      "GET /api/no-such-route 404",
      "GET /api/events 401",
      "GET /api/events 200",
      "GET /api/monitor/events 403",
      "POST /api/tasks 413",
    ]);
    expect(problems).toEqual([]);
  });

  it("the Content-Security-Policy is strict and allows what the built app needs, nothing from elsewhere", async () => {
    const { proxy } = running();
    const csp = cspOf(await raw(`${proxy.url}/`, { headers: { accept: "text/html" } }));
    expect(csp.get("default-src")).toEqual(["'self'"]);
    const scripts = csp.get("script-src") ?? csp.get("default-src") ?? [];
    expect(scripts).toEqual(["'self'"]);
    expect(csp.get("object-src")).toEqual(["'none'"]);
    expect(csp.get("base-uri")).toBeDefined();
    expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
    // fetch and the event streams (a fetch-based reader, or EventSource) go to the same origin.
    expect(csp.get("connect-src") ?? csp.get("default-src")).toEqual(["'self'"]);

    // What the build asks for: scripts, styles and icons from its own origin, nothing inline.
    const index = readFileSync(path.join(webRoot, "index.html"), "utf8");
    const scriptTags = [...index.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scriptTags.length).toBeGreaterThan(0);
    for (const [, attributes = "", body = ""] of scriptTags) {
      expect(attributes).toMatch(/\bsrc="\/[^/]/);
      expect(body.trim()).toBe("");
    }
    expect(index).not.toMatch(/\son[a-z]+=/i);
    for (const [, href] of index.matchAll(/<link\b[^>]*\bhref="([^"]+)"/g))
      expect(href).toMatch(/^\/[^/]/);
    for (const file of readdirSync(path.join(webRoot, "assets"))) {
      const text = readFileSync(path.join(webRoot, "assets", file), "utf8");
      if (file.endsWith(".css")) {
        for (const [, url = ""] of text.matchAll(/url\(\s*["']?([^"')]+)/g))
          expect(url).toMatch(/^(\/[^/]|data:|#|\.)/);
        expect(text).not.toMatch(/@import\s+(url\()?["']?https?:/);
      }
      if (file.endsWith(".js")) {
        // 'unsafe-eval' is not granted: nothing may compile code from strings.
        expect(text).not.toMatch(/\beval\(|new Function\(/);
      }
    }
  });

  it.skipIf(!chromiumPresent)(
    "in Chromium, the app runs under that policy: no violation, same-origin fetch and event streams allowed",
    async () => {
      const { proxy, system } = running();
      const user = await system.account("user");
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        timeout: 60_000,
      });
      try {
        const page = await browser.newPage();
        const consoleErrors: string[] = [];
        page.on("console", (message) => {
          if (message.type() === "error") consoleErrors.push(message.text());
        });
        // In the page (strings: this file is compiled without the DOM's types).
        await page.addInitScript({
          content: `window.violations = [];
            document.addEventListener("securitypolicyviolation", (event) =>
              window.violations.push(event.violatedDirective + " " + event.blockedURI));`,
        });
        await page.goto(proxy.url, { waitUntil: "networkidle" });
        await page.waitForFunction('document.getElementById("root")?.childElementCount > 0');
        const outcome = (await page.evaluate(`(async (token) => {
          const products = await fetch("/api/products");
          const stream = await fetch("/api/events", { headers: { authorization: "Bearer " + token } });
          const reader = stream.body.getReader();
          const first = new TextDecoder().decode((await reader.read()).value);
          await reader.cancel();
          const eventSource = await new Promise((resolve) => {
            const source = new EventSource("/api/events");
            source.onerror = () => { source.close(); resolve("error (no cookie: 401)"); };
            source.onopen = () => { source.close(); resolve("open"); };
          });
          return { products: products.status, stream: stream.status, first, eventSource };
        })(${JSON.stringify(user.token)})`)) as {
          products: number;
          stream: number;
          first: string;
          eventSource: string;
        };
        expect(outcome.products).toBe(200);
        expect(outcome.stream).toBe(200);
        expect(outcome.first).toContain(": connected");
        expect(outcome.eventSource).toBe("error (no cookie: 401)");
        const violations = await page.evaluate("window.violations");
        expect(violations).toEqual([]);
        expect(consoleErrors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );
});
