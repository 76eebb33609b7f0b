import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";

/**
 * Every route the API serves, found in the app itself (its router, and its OpenAPI document
 * for the request bodies): nothing here lists the routes by hand but the public ones.
 */

export interface Route {
  method: string;
  /** Fastify's pattern: `/api/tasks/:id`, `/docs/*`. */
  url: string;
}

export const routeName = (route: Route) => `${route.method} ${route.url}`;

/**
 * The routes anyone may call, and why. Every other route must refuse an anonymous call (401),
 * whatever its method (HEAD included). A route added without `app.authenticate` fails the
 * inventory until it is listed here, on purpose.
 */
export const PUBLIC_ROUTES: readonly (Route & { why: string })[] = [
  { method: "POST", url: "/api/auth/register", why: "creating an account" },
  { method: "POST", url: "/api/auth/login", why: "getting a token" },
  { method: "POST", url: "/api/auth/logout", why: "clears the caller's own cookie, nothing else" },
  { method: "GET", url: "/api/products", why: "the product catalog is public" },
  {
    method: "GET",
    url: "/api/dev/mail",
    why: "the embedded mail sink; never registered in production",
  },
  { method: "GET", url: "/openapi.json", why: "the API's description" },
  { method: "GET", url: "/docs", why: "the API's documentation (Swagger UI)" },
  { method: "GET", url: "/docs/", why: "the API's documentation (Swagger UI)" },
  { method: "GET", url: "/docs/*", why: "the API's documentation (Swagger UI)" },
  { method: "GET", url: "/docs/json", why: "the API's description" },
  { method: "GET", url: "/docs/yaml", why: "the API's description" },
  { method: "GET", url: "/docs/static/index.html", why: "the API's documentation (Swagger UI)" },
  {
    method: "GET",
    url: "/docs/static/swagger-initializer.js",
    why: "the API's documentation (Swagger UI)",
  },
  { method: "GET", url: "/healthz", why: "liveness probe" },
  { method: "GET", url: "/readyz", why: "readiness probe" },
  { method: "GET", url: "/metrics", why: "Prometheus scrape (nginx does not proxy it)" },
  { method: "GET", url: "/*", why: "the web app's files and pages" },
];

/** HEAD of a public GET is public too. */
export function isPublic(route: Route): boolean {
  const method = route.method === "HEAD" ? "GET" : route.method;
  return PUBLIC_ROUTES.some((p) => p.method === method && p.url === route.url);
}

/**
 * The router's routes, from `printRoutes({ commonPrefix: false })`: a tree whose lines are
 * `├── <segment> (<METHODS>)`, four columns per level, each segment continuing its parent's.
 */
export function routesOf(app: FastifyInstance): Route[] {
  const tree = app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes: Route[] = [];
  for (const line of tree.split("\n")) {
    const marker = line.indexOf("── ");
    if (marker < 0) continue;
    const depth = Math.round(marker / 4);
    const rest = line.slice(marker + 3);
    const match = /^(.*?)(?: \(([A-Z, ]+)\))?$/.exec(rest);
    if (!match) throw new Error(`unexpected route line: ${line}`);
    const [, segment = "", methods] = match;
    stack.length = depth;
    stack.push(segment);
    if (!methods) continue;
    // The root's own line is "/" when it has a route; its children then omit the slash.
    const joined = stack.join("");
    const url = joined.startsWith("/") ? joined : `/${joined}`;
    for (const method of methods.split(",").map((m) => m.trim())) routes.push({ method, url });
  }
  return routes;
}

/** A path that matches the pattern: ids are random UUIDs, a wildcard a made-up page. */
export function concretePath(url: string, id: string = randomUUID()): string {
  return url.replace(/:[A-Za-z_]+/g, id).replace(/\*$/, "some/page");
}

interface Schema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  examples?: unknown[];
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minimum?: number;
  minLength?: number;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

export const openApiPath = (url: string) => url.replace(/:([A-Za-z_]+)/g, "{$1}");

export function operationOf(doc: OpenApiDocument, route: Route): Operation | undefined {
  return doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
}

/**
 * A body its schema accepts (the documented example or default where there is one), so that
 * only the credentials decide a request's fate: without them, a handler would run.
 */
export function sampleBody(doc: OpenApiDocument, route: Route): unknown {
  const schema = operationOf(doc, route)?.requestBody?.content?.["application/json"]?.schema;
  return schema ? sample(doc, schema, 0) : undefined;
}

function sample(doc: OpenApiDocument, schema: Schema, depth: number): unknown {
  if (depth > 8) return null;
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop() ?? "";
    const target = doc.components?.schemas?.[name];
    return target ? sample(doc, target, depth + 1) : null;
  }
  if (schema.const !== undefined) return schema.const;
  if (schema.examples?.length) return schema.examples[0];
  if (schema.default !== undefined) return schema.default;
  if (schema.enum?.length) return schema.enum[0];
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    const first = alternatives.find((s) => s.type !== "null") ?? alternatives[0];
    return first ? sample(doc, first, depth + 1) : null;
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "object": {
      const value: Record<string, unknown> = {};
      for (const key of schema.required ?? []) {
        const property = schema.properties?.[key];
        if (property) value[key] = sample(doc, property, depth + 1);
      }
      return value;
    }
    case "array":
      return schema.items ? [sample(doc, schema.items, depth + 1)] : [];
    case "string":
      if (schema.format === "uuid") return randomUUID();
      if (schema.format === "date-time") return new Date().toISOString();
      if (schema.format === "email") return `sample-${randomUUID()}@example.com`;
      return "x".repeat(Math.max(1, schema.minLength ?? 1));
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "boolean":
      return false;
    default:
      return {};
  }
}
