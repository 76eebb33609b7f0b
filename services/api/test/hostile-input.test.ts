import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../src/http/input-limits.ts";
import { createUserRepository } from "../src/modules/users/user.repository.ts";
import { createAccount } from "../src/modules/users/user.service.ts";
import { type AppFixture, openAppFixture, signUp } from "./app-fixture.ts";

/**
 * What the API fuzzer (test/fuzz) found, one story each: input PostgreSQL or JSON.stringify
 * could not take became 500s; errors from Node's parser and the router were not
 * problem+json; the OpenAPI document named the wrong media types and left 422s out.
 */

const ADMIN_EMAIL = `fuzz-ops-${process.pid}-${Date.now()}@example.com`;

let f: AppFixture | undefined;
let auth: Record<string, string> = {};
let operator: Record<string, string> = {};

beforeAll(async () => {
  f = await openAppFixture({ validator: true, embeddedQueues: true, adminEmails: [ADMIN_EMAIL] });
  if (!f) return;
  auth = (await signUp(f.app)).auth;
  const user = await createAccount(createUserRepository(f.database.db), {
    email: ADMIN_EMAIL,
    password: "correct horse battery",
    name: "Ops",
  });
  const issued = await f.tokens.issue({ id: user.id, email: ADMIN_EMAIL, name: "Ops" });
  operator = { authorization: `Bearer ${issued.access_token}` };
});
afterAll(async () => {
  await f?.close();
});

const app = () => {
  if (!f) throw new Error("PostgreSQL fixture unavailable");
  return f.app;
};

function postJson(url: string, body: string, headers: Record<string, string> = auth) {
  return app().inject({
    method: "POST",
    url,
    headers: { ...headers, "content-type": "application/json" },
    payload: body,
  });
}

function expectProblem(
  res: { statusCode: number; headers: Record<string, unknown>; body: string },
  status: number,
) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(res.body)).toMatchObject({ status });
}

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("hostile input", () => {
  it("when a task's text holds U+0000 or an unpaired surrogate, in a value or a key, then 422 names the field (PostgreSQL refused it: a 500)", async () => {
    for (const [body, path] of [
      ['{"type":"echo","title":"a\\u0000b"}', "/title"],
      ['{"type":"echo","payload":{"a":"\\ud800"}}', "/payload/a"],
      ['{"type":"echo","payload":{"k\\u0000":1}}', "/payload/k\u0000"],
      ['{"type":"echo","payload":["ok","\\udfffx"]}', "/payload/1"],
    ] as const) {
      const res = await postJson("/api/tasks", body);
      expectProblem(res, 422);
      expect(res.json().errors, body).toEqual([{ path, message: expect.any(String) }]);
    }
    // A pair of surrogates is one code point, and welcome.
    const fine = await postJson("/api/tasks", '{"type":"echo","title":"\\ud83d\\ude00"}');
    expect(fine.statusCode, fine.body).toBe(202);
  });

  it(`when a payload nests deeper than ${MAX_JSON_DEPTH} levels, however deep, then 422 (JSON.stringify overflowed its stack: a 500)`, async () => {
    // The body is level 0, the payload 1: its innermost array is at the payload's depth + n - 1.
    const deepest = MAX_JSON_DEPTH - 1;
    const ok = await postJson("/api/tasks", `{"type":"echo","payload":${nested(deepest)}}`);
    expect(ok.statusCode, ok.body).toBe(202);
    for (const depth of [deepest + 1, 100_000]) {
      const res = await postJson("/api/tasks", `{"type":"echo","payload":${nested(depth)}}`);
      expectProblem(res, 422);
      expect(res.json().errors[0].message).toMatch(/nest/);
    }
  });

  it("when a query string holds U+0000, then 422 (a monitor search sent it to PostgreSQL)", async () => {
    const res = await app().inject({
      method: "GET",
      url: "/api/monitor/tasks?q=a%00b",
      headers: operator,
    });
    expectProblem(res, 422);
    expect(res.json().errors[0].path).toBe("/querystring/q");
  });

  it("when an order's quantity does not fit the contract's int32, then 422 (the gRPC client could not encode it: a 500)", async () => {
    const res = await postJson(
      "/api/orders",
      '{"items":[{"sku":"KB-101","quantity":9007199254740994}]}',
    );
    expectProblem(res, 422);
    expect(res.json().errors[0].path).toMatch(/quantity/);
  });

  it("when dead letters are redriven by ids that are no UUIDs, then nothing is redriven (PostgreSQL refused them as uuids: a 500)", async () => {
    const res = await postJson(
      "/api/monitor/dead-letters/redrive",
      '{"source":"task-queue","ids":["not-a-task","x"]}',
      operator,
    );
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ redriven: 0, dead_letters_removed: 0 });
    const withPayload = await postJson(
      "/api/monitor/dead-letters/redrive",
      '{"source":"task-queue","ids":["not-a-task"],"payload":{}}',
      operator,
    );
    expectProblem(withPayload, 404);
  });

  it("when the router refuses a URL (bad percent-encoding) or a path parameter over 100 characters, then 400 and 414 as problem+json", async () => {
    expectProblem(await app().inject({ method: "GET", url: "/api/tasks/%zz", headers: auth }), 400);
    expectProblem(
      await app().inject({
        method: "POST",
        url: `/api/tasks/${"x".repeat(101)}/cancel`,
        headers: auth,
      }),
      414,
    );
  });

  it("when Node's HTTP parser refuses a request (headers too large, not HTTP), then 431 and 400 as problem+json, and the connection closes", async () => {
    const url = await app().listen({ host: "127.0.0.1", port: 0 });
    const { port } = new URL(url);
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), "127.0.0.1", () => socket.end(request));
        let answer = "";
        socket.setEncoding("latin1").on("data", (chunk: string) => {
          answer += chunk;
        });
        socket.once("close", () => resolve(answer));
        socket.once("error", reject);
      });
    const huge = await raw(
      `GET /api/tasks HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`,
    );
    const garbage = await raw("NOT HTTP AT ALL\r\n\r\n");
    for (const [answer, status] of [
      [huge, 431],
      [garbage, 400],
    ] as const) {
      expect(answer).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      expect(answer).toMatch(/\r\nConnection: close\r\n/i);
      expect(answer).toMatch(/\r\nContent-Type: application\/problem\+json/i);
      expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toMatchObject({ status });
    }
  });
});

describe("the OpenAPI document", () => {
  it("names application/problem+json for every problem answer, text/event-stream for the event streams, and a 422 wherever a route validates its input", async () => {
    const document = (await app().inject({ method: "GET", url: "/docs/json" })).json<{
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: unknown[];
            requestBody?: unknown;
            responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
          }
        >
      >;
    }>();
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        for (const [status, response] of Object.entries(operation.responses)) {
          for (const [media, { schema }] of Object.entries(response.content ?? {}))
            if (schema?.$ref === "#/components/schemas/Problem")
              expect(media, `${where} ${status}`).toBe("application/problem+json");
        }
        if ((operation.parameters ?? []).length > 0 || operation.requestBody)
          expect(Object.keys(operation.responses), where).toContain("422");
      }
    }
    for (const path of ["/api/events", "/api/monitor/events"])
      expect(Object.keys(document.paths[path]?.get?.responses["200"]?.content ?? {})).toEqual([
        "text/event-stream",
      ]);
  });
});
