/**
 * The part of an OpenAPI 3.1 document the fuzzer reads — the API's own, as GET /docs/json
 * serves it — and the routes it describes, matched against a concrete path the way Fastify's
 * router does (static segments before parameters).
 */

/** JSON Schema as OpenAPI 3.1 carries it (2020-12); only what the fuzzer reads is typed. */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  patternProperties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  examples?: unknown[];
  [keyword: string]: unknown;
}

export interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema: JsonSchema;
}

export interface MediaType {
  schema?: JsonSchema;
  example?: unknown;
  examples?: Record<string, { value?: unknown }>;
}

export interface ResponseObject {
  description?: string;
  content?: Record<string, MediaType>;
}

export interface Operation {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, MediaType> };
  responses?: Record<string, ResponseObject>;
  security?: Record<string, string[]>[];
}

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

const METHODS = ["get", "put", "post", "delete", "patch", "options", "head"] as const;

/** One documented operation. */
export interface Route {
  /** Upper case, as sent. */
  method: string;
  /** The documented template, `/api/tasks/{id}`. */
  template: string;
  /** `GET /api/tasks/{id}`: how tallies and findings name it. */
  key: string;
  operation: Operation;
  /** Literal segments, or `{ param }` for a path parameter. */
  segments: (string | { param: string })[];
  /** Whether the document asks for credentials (a security requirement). */
  secured: boolean;
  /** The JSON request body's schema, if the operation takes one. */
  bodySchema: JsonSchema | undefined;
  /** The request bodies the document gives as examples. */
  bodyExamples: unknown[];
}

function segmentsOf(template: string): Route["segments"] {
  return template
    .split("/")
    .slice(1)
    .map((segment) => {
      const match = /^\{(.+)\}$/.exec(segment);
      return match?.[1] ? { param: match[1] } : segment;
    });
}

/** Every operation of the document, in its order. */
export function routesOf(document: OpenApiDocument): Route[] {
  const routes: Route[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const json = operation.requestBody?.content["application/json"];
      routes.push({
        method: method.toUpperCase(),
        template,
        key: `${method.toUpperCase()} ${template}`,
        operation,
        segments: segmentsOf(template),
        secured: (operation.security ?? []).length > 0,
        bodySchema: json?.schema,
        bodyExamples: [
          ...(json?.example === undefined ? [] : [json.example]),
          ...Object.values(json?.examples ?? {}).map((example) => example.value),
        ].filter((value) => value !== undefined),
      });
    }
  }
  return routes;
}

/** A path segment as the router compares it: percent-decoded, except an encoded slash. */
function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * The documented route Fastify would answer `method path` with, or undefined when none
 * matches (the not-found handler's 404, or a bad URL's 400). Where a static segment and a
 * parameter both match, the static one wins, as in find-my-way.
 */
export function matchRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): Route | undefined {
  const raw = (path.split("?")[0] ?? "").split("/").slice(1);
  const segments = raw.map(decodeSegment);
  if (segments.some((segment) => segment === undefined)) return undefined;
  let best: { route: Route; score: string } | undefined;
  for (const route of routes) {
    if (route.method !== method || route.segments.length !== segments.length) continue;
    let score = "";
    let matches = true;
    for (const [i, expected] of route.segments.entries()) {
      const actual = segments[i] as string;
      if (typeof expected === "string") {
        if (expected !== actual) {
          matches = false;
          break;
        }
        score += "1";
      } else {
        // find-my-way takes an empty parameter too (`/api/tasks//cancel`).
        score += "0";
      }
    }
    if (matches && (!best || score > best.score)) best = { route, score };
  }
  return best?.route;
}

/** `#/components/schemas/Task` → the schema; other schemas as they are. */
export function resolveSchema(document: OpenApiDocument, schema: JsonSchema): JsonSchema {
  let current = schema;
  for (let hops = 0; current.$ref && hops < 10; hops++) {
    const name = /^#\/components\/schemas\/(.+)$/.exec(current.$ref)?.[1];
    const target = name ? document.components?.schemas?.[name] : undefined;
    if (!target) throw new Error(`unresolvable $ref ${current.$ref}`);
    current = target;
  }
  return current;
}

/** Every string the document gives as an example or default: realistic values for any field. */
export function documentExamples(document: OpenApiDocument): string[] {
  const found = new Set<string>();
  const visit = (node: unknown) => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (!node || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node)) {
      if (key === "examples" && Array.isArray(value)) {
        for (const example of value) if (typeof example === "string") found.add(example);
      } else if (key === "default" && typeof value === "string") {
        found.add(value);
      } else {
        visit(value);
      }
    }
  };
  visit(document.paths);
  visit(document.components?.schemas);
  return [...found];
}
