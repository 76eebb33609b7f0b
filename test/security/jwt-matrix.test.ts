import * as grpc from "@grpc/grpc-js";
import { SESSION_COOKIE } from "@taskflow/auth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callMethod,
  contractServices,
  type GrpcMethod,
  listedServices,
  methodsOf,
  PUBLIC_GRPC_SERVICES,
} from "./grpc-surface.ts";
import {
  ATTACKS,
  type AttackContext,
  type Credential,
  OVERSIZED_TOKEN_LENGTH,
  URL_TOKEN_ATTACK,
} from "./jwt-attacks.ts";
import {
  concretePath,
  isPublic,
  type OpenApiDocument,
  type Route,
  routeName,
  routesOf,
  sampleBody,
} from "./routes.ts";
import {
  type Account,
  type Answer,
  call,
  enginesAvailable,
  type SecuritySystem,
  startSecuritySystem,
} from "./security-fixture.ts";
import { formatTable, inPool } from "./table.ts";

/**
 * Every protected HTTP route (found in the app, not listed here), both event streams and
 * every gRPC method, attacked with every token of jwt-attacks.ts, each presented as a bearer
 * header and as the session cookie. All must be refused alike: 401 with the same
 * problem+json shape over HTTP, UNAUTHENTICATED over gRPC. The victim's real token is the
 * control column: what a forgery that got through would have been answered.
 */

const engines = await enginesAvailable();

let system: SecuritySystem | undefined;
let victim: Account;
let context: AttackContext;
let doc: OpenApiDocument;

beforeAll(async () => {
  if (!engines) return;
  system = await startSecuritySystem({ operators: 1 });
  victim = await system.account("operator");
  const attacker = await system.account("user");
  context = {
    victim,
    secret: system.secret,
    attackerToken: attacker.token,
    serviceToken: await system.serviceToken(),
  };
  doc = system.app.swagger() as unknown as OpenApiDocument;
});

const httpCells = new Map<string, Map<string, string>>();
const grpcCells = new Map<string, Map<string, string>>();
const cell = (
  table: Map<string, Map<string, string>>,
  row: string,
  column: string,
  value: string,
) => {
  const cells = table.get(row) ?? new Map<string, string>();
  cells.set(column, value);
  table.set(row, cells);
};

afterAll(async () => {
  const columns = ["valid", ...ATTACKS.map((a) => a.id), URL_TOKEN_ATTACK.id];
  if (httpCells.size > 0) {
    const rows = [...httpCells].map(([route, cells]) => [
      route,
      ...columns.map((c) => cells.get(c) ?? ""),
    ]);
    console.log(
      `\nJWT attack matrix, HTTP (status; "bearer/cookie" where they differ; valid = the victim's real token)\n${formatTable(["route", ...columns], rows)}\n\n${[
        ...ATTACKS.map((a) => `${a.id}: ${a.what}`),
        `${URL_TOKEN_ATTACK.id}: ${URL_TOKEN_ATTACK.what}`,
      ].join("\n")}\n`,
    );
  }
  if (grpcCells.size > 0) {
    // Transposed: few methods, many attacks.
    const methods = [...grpcCells.keys()];
    const rows = ["valid", ...ATTACKS.filter((a) => a.grpc).map((a) => a.id)].map((attack) => [
      attack,
      ...methods.map((m) => grpcCells.get(m)?.get(attack) ?? ""),
    ]);
    console.log(
      `\nJWT attack matrix, gRPC (status; valid = the victim's real token)\n${formatTable(["attack", ...methods], rows)}\n`,
    );
  }
  await system?.close();
});

const fixture = () => {
  if (!system) throw new Error("the system under attack did not start");
  return system;
};

/** The protected routes: every route of the app but the public ones and HEAD twins of GETs. */
function protectedRoutes(): Route[] {
  return routesOf(fixture().app).filter((r) => r.method !== "HEAD" && !isPublic(r));
}

/** How an answer differs from the one refusal every attack must get; undefined if it does not. */
function deviation(answer: Answer, path: string): string | undefined {
  const problems: string[] = [];
  if (answer.status !== 401) problems.push(`status ${answer.status}`);
  const type = answer.headers.get("content-type") ?? "";
  if (!type.startsWith("application/problem+json")) problems.push(`content-type "${type}"`);
  const body = answer.body as Record<string, unknown> | undefined;
  const keys = body && typeof body === "object" ? Object.keys(body).sort().join(",") : "(none)";
  if (keys !== "detail,instance,status,title,type") problems.push(`body keys ${keys}`);
  if (body?.status !== 401 || body.title !== "Unauthorized" || body.type !== "about:blank")
    problems.push(`body ${answer.text.slice(0, 200)}`);
  if (body && body.instance !== path) problems.push(`instance ${String(body.instance)}`);
  // A refusal says why in general terms, never what the token held.
  if (answer.text.includes(victim.id) || answer.text.includes(victim.email))
    problems.push("the answer repeats the token's claims");
  return problems.length > 0 ? problems.join("; ") : undefined;
}

function httpRequest(route: Route, credential: Credential, carrier: "bearer" | "cookie") {
  const path = concretePath(route.url, "0190a000-0000-7000-8000-00000000dead");
  const headers: Record<string, string> = {};
  let url = path;
  if (credential.kind === "token") {
    if (carrier === "bearer") headers.authorization = `Bearer ${credential.token}`;
    else headers.cookie = `${SESSION_COOKIE}=${credential.token}`;
  } else if (credential.kind === "query") {
    url = `${path}?access_token=${credential.token}&token=${credential.token}`;
  }
  const body = sampleBody(doc, route);
  return {
    path,
    send: () =>
      call(fixture().base, route.method, url, body === undefined ? { headers } : { headers, body }),
  };
}

describe.skipIf(!engines)("the JWT attack matrix over HTTP", () => {
  it("finds every route to attack in the app, the event streams and the monitor among them", () => {
    const routes = protectedRoutes();
    const names = routes.map(routeName);
    expect(names).toEqual(
      expect.arrayContaining([
        "GET /api/events",
        "GET /api/monitor/events",
        "POST /api/monitor/dead-letters/redrive",
        "POST /api/tasks",
        "GET /api/notifications",
      ]),
    );
    // The router and the OpenAPI document agree: each documented operation is attacked, or public.
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) {
        const url = path.replace(/\{([A-Za-z_]+)\}/g, ":$1");
        const route = { method: method.toUpperCase(), url };
        expect(isPublic(route) || names.includes(routeName(route)), routeName(route)).toBe(true);
      }
    }
  });

  it(`refuses every forged or misused token on every protected route with one answer: 401 problem+json`, async () => {
    const routes = protectedRoutes();
    const failures: string[] = [];
    const signatures = new Set<string>();
    const jobs = routes.flatMap((route) => [
      ...ATTACKS.flatMap((attack) => {
        const credential = attack.credential(context);
        const carriers =
          credential.kind === "token" ? (["bearer", "cookie"] as const) : (["bearer"] as const);
        return carriers.map((carrier) => ({ route, column: attack.id, credential, carrier }));
      }),
      {
        route,
        column: URL_TOKEN_ATTACK.id,
        credential: { kind: "query", token: victim.token } as Credential,
        carrier: "bearer" as const,
      },
    ]);
    const answers = await inPool(jobs, 8, async (job) => {
      const request = httpRequest(job.route, job.credential, job.carrier);
      return { job, path: request.path, answer: await request.send() };
    });
    const seen = new Map<string, { bearer?: number; cookie?: number }>();
    for (const { job, path, answer } of answers) {
      const key = `${routeName(job.route)}\u0000${job.column}`;
      seen.set(key, { ...seen.get(key), [job.carrier]: answer.status });
      const problem = deviation(answer, path);
      if (problem)
        failures.push(`${routeName(job.route)} × ${job.column} (${job.carrier}): ${problem}`);
      const body = answer.body as Record<string, unknown> | undefined;
      signatures.add(
        `${answer.status} ${answer.headers.get("content-type")?.split(";")[0]} ${Object.keys(
          body ?? {},
        )
          .sort()
          .join(",")}`,
      );
    }
    for (const [key, { bearer, cookie }] of seen) {
      const [route = "", column = ""] = key.split("\u0000");
      cell(
        httpCells,
        route,
        column,
        cookie === undefined || cookie === bearer ? String(bearer) : `${bearer}/${cookie}`,
      );
    }
    expect(jobs.length).toBeGreaterThan(routes.length * ATTACKS.length);
    expect(failures, failures.join("\n")).toEqual([]);
    expect([...signatures]).toEqual([
      "401 application/problem+json detail,instance,status,title,type",
    ]);
  });

  it("answers the victim's real token on each of those routes (the control: a forgery that worked would look so)", async () => {
    const routes = protectedRoutes();
    const answers = await inPool(routes, 4, async (route) => {
      const request = httpRequest(route, { kind: "token", token: victim.token }, "bearer");
      return { route, answer: await request.send() };
    });
    for (const { route, answer } of answers) {
      cell(httpCells, routeName(route), "valid", String(answer.status));
      expect(answer.status, `${routeName(route)}: ${answer.text.slice(0, 300)}`).not.toBe(401);
      expect(answer.status, `${routeName(route)}: ${answer.text.slice(0, 300)}`).toBeLessThan(500);
    }
  });

  it(`takes a ${OVERSIZED_TOKEN_LENGTH}-character token to the same refusal, not to a header-size error`, async () => {
    const attack = ATTACKS.find((a) => a.id === "16KB");
    const credential = attack?.credential(context);
    expect(credential?.kind === "token" && credential.token.length).toBe(OVERSIZED_TOKEN_LENGTH);
    const answer = await call(fixture().base, "GET", "/api/tasks", {
      headers: { authorization: `Bearer ${credential?.kind === "token" ? credential.token : ""}` },
    });
    expect(deviation(answer, "/api/tasks")).toBeUndefined();
  });

  it("refuses a token once it expires, though it was verified and remembered before", async () => {
    const f = fixture();
    const issued = await f.tokens.issue({ id: victim.id, email: victim.email, name: victim.name });
    const headers = { authorization: `Bearer ${issued.access_token}` };
    expect((await call(f.base, "GET", "/api/tasks/stats", { headers })).status).toBe(200);
    f.clock.offsetMs = (issued.expires_in + 1) * 1000;
    try {
      const answer = await call(f.base, "GET", "/api/tasks/stats", { headers });
      expect(deviation(answer, "/api/tasks/stats")).toBeUndefined();
    } finally {
      f.clock.offsetMs = 0;
    }
  });
});

describe.skipIf(!engines)("the JWT attack matrix over gRPC (the validator)", () => {
  let channel: grpc.Client | undefined;
  afterAll(() => channel?.close());

  async function methods(): Promise<GrpcMethod[]> {
    const f = fixture();
    const listed = await listedServices(f.validatorUrl);
    const known = contractServices();
    const found: GrpcMethod[] = [];
    for (const name of listed) {
      if (PUBLIC_GRPC_SERVICES.some((p) => p.name === name)) continue;
      const service = known.get(name);
      if (!service) throw new Error(`the validator serves ${name}, which no contract describes`);
      found.push(...methodsOf(service));
    }
    return found;
  }

  it("refuses every forged or misused token on every method with UNAUTHENTICATED, before any answer", async () => {
    const f = fixture();
    channel ??= new grpc.Client(f.validatorUrl, grpc.credentials.createInsecure());
    const all = await methods();
    expect(all.map((m) => m.path)).toEqual(
      expect.arrayContaining(["/taskflow.orders.v1.OrderValidationService/ValidateOrders"]),
    );
    const failures: string[] = [];
    for (const method of all) {
      for (const attack of ATTACKS.filter((a) => a.grpc)) {
        const credential = attack.credential(context);
        const outcome = await callMethod(
          channel,
          method,
          credential.kind === "token" ? `Bearer ${credential.token}` : undefined,
        );
        cell(grpcCells, method.path, attack.id, grpc.status[outcome.code] ?? String(outcome.code));
        if (outcome.code !== grpc.status.UNAUTHENTICATED || outcome.messages > 0)
          failures.push(
            `${method.path} × ${attack.id}: ${grpc.status[outcome.code]}, ${outcome.messages} messages`,
          );
      }
    }
    expect(failures, failures.join("\n")).toEqual([]);
  });

  it("answers the victim's real token on every method (the control)", async () => {
    const f = fixture();
    channel ??= new grpc.Client(f.validatorUrl, grpc.credentials.createInsecure());
    for (const method of await methods()) {
      const outcome = await callMethod(channel, method, `Bearer ${victim.token}`);
      cell(grpcCells, method.path, "valid", grpc.status[outcome.code] ?? String(outcome.code));
      expect(outcome.code, method.path).toBe(grpc.status.OK);
    }
  });
});
