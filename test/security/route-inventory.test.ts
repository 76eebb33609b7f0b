import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callMethod,
  contractServices,
  listedServices,
  methodsOf,
  PUBLIC_GRPC_SERVICES,
} from "./grpc-surface.ts";
import {
  concretePath,
  isPublic,
  type OpenApiDocument,
  operationOf,
  PUBLIC_ROUTES,
  routeName,
  routesOf,
} from "./routes.ts";
import {
  call,
  enginesAvailable,
  type SecuritySystem,
  startSecuritySystem,
} from "./security-fixture.ts";
import { formatTable, inPool } from "./table.ts";

/**
 * The inventory: every route the API serves (HEAD included) is public by PUBLIC_ROUTES, with
 * a reason, or refuses an anonymous call with 401 problem+json; the same for the validator's
 * gRPC services (UNAUTHENTICATED). Routes are read from the running app, so a new route is
 * covered the day it is added.
 */

const engines = await enginesAvailable();

let system: SecuritySystem | undefined;
const inventory: string[][] = [];

beforeAll(async () => {
  if (!engines) return;
  system = await startSecuritySystem({ operators: 1 });
});
afterAll(async () => {
  if (inventory.length > 0) {
    console.log(
      `\nRoute inventory (anonymous calls)\n${formatTable(["route", "anonymous", "why"], inventory)}\n`,
    );
  }
  await system?.close();
});

const fixture = () => {
  if (!system) throw new Error("the system under attack did not start");
  return system;
};

describe.skipIf(!engines)("the HTTP route inventory", () => {
  it("lists only routes that exist (a stale entry would hide nothing, but says something false)", () => {
    const { app } = fixture();
    const present = new Set(routesOf(app).map(routeName));
    const missing = PUBLIC_ROUTES.filter((r) => !present.has(routeName(r)));
    expect(missing.map(routeName)).toEqual([]);
  });

  it("every route is public by the list or refuses anonymous calls with 401 problem+json", async () => {
    const f = fixture();
    const routes = routesOf(f.app);
    // The router's listing is what this test stands on: it must see the routes it should.
    expect(routes.length).toBeGreaterThan(40);
    expect(routes.map(routeName)).toEqual(
      expect.arrayContaining(["HEAD /api/events", "DELETE /api/schedules/:id", "GET /*"]),
    );
    const answers = await inPool(routes, 8, async (route) => {
      const path = concretePath(route.url);
      return {
        route,
        path,
        answer: isPublic(route) ? undefined : await call(f.base, route.method, path),
      };
    });
    const failures: string[] = [];
    for (const { route, path, answer } of answers) {
      if (!answer) {
        const why = PUBLIC_ROUTES.find((p) => p.url === route.url)?.why ?? "";
        inventory.push([routeName(route), "public", why]);
        continue;
      }
      inventory.push([routeName(route), String(answer.status), ""]);
      if (answer.status !== 401)
        failures.push(`${routeName(route)}: ${answer.status} ${answer.text.slice(0, 200)}`);
      else if (route.method !== "HEAD") {
        const type = answer.headers.get("content-type") ?? "";
        const body = answer.body as { status?: number; instance?: string } | undefined;
        if (
          !type.startsWith("application/problem+json") ||
          body?.status !== 401 ||
          body.instance !== path
        )
          failures.push(`${routeName(route)}: 401 but ${type} ${answer.text.slice(0, 200)}`);
      }
    }
    expect(failures, failures.join("\n")).toEqual([]);
  });

  it("documents the same split: public routes declare no security, every other route does", () => {
    const f = fixture();
    const doc = f.app.swagger() as unknown as OpenApiDocument;
    const wrong: string[] = [];
    for (const route of routesOf(f.app)) {
      const operation = operationOf(doc, route);
      if (!operation) continue; // hidden from the document (docs, web app) or a HEAD twin
      const declared = (operation.security?.length ?? 0) > 0;
      if (declared === isPublic(route))
        wrong.push(`${routeName(route)}: security ${declared ? "declared" : "missing"}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe.skipIf(!engines)("the gRPC service inventory", () => {
  it("every service the validator serves is public by the list or refuses anonymous calls (UNAUTHENTICATED)", async () => {
    const f = fixture();
    const listed = await listedServices(f.validatorUrl);
    const known = contractServices();
    const channel = new grpc.Client(f.validatorUrl, grpc.credentials.createInsecure());
    const failures: string[] = [];
    try {
      for (const name of listed) {
        const open = PUBLIC_GRPC_SERVICES.find((p) => p.name === name);
        if (open) {
          inventory.push([`gRPC ${name}`, "public", open.why]);
          continue;
        }
        const service = known.get(name);
        if (!service) {
          failures.push(`${name}: served, but no contract describes it (cannot be checked)`);
          continue;
        }
        for (const method of methodsOf(service)) {
          const outcome = await callMethod(channel, method, undefined);
          inventory.push([
            `gRPC ${method.path}`,
            grpc.status[outcome.code] ?? String(outcome.code),
            "",
          ]);
          if (outcome.code !== grpc.status.UNAUTHENTICATED || outcome.messages > 0)
            failures.push(
              `${method.path}: ${grpc.status[outcome.code]} with ${outcome.messages} messages`,
            );
        }
      }
    } finally {
      channel.close();
    }
    expect(listed).toEqual(
      expect.arrayContaining(["taskflow.orders.v1.CatalogService", "grpc.health.v1.Health"]),
    );
    expect(failures, failures.join("\n")).toEqual([]);
  });
});
