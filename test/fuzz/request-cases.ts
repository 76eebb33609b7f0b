import fc from "fast-check";
import {
  documentExamples,
  type JsonSchema,
  type OpenApiDocument,
  type Route,
  routesOf,
} from "./openapi.ts";
import { HOSTILE_TEXT, schemaArbitraries, text, tokenLike } from "./schema-arbitrary.ts";

/**
 * A fuzz case: one HTTP request described compactly (large parts as repetitions, built only
 * when sent), generated for one documented operation by fast-check from the document.
 */

/** Text, a run of repeated text, or raw bytes (a body's invalid UTF-8). */
export type Part = string | { repeat: string; count: number } | { bytes: number[] };

/** What was generated on purpose, beyond the schema's valid-ish values. */
export type CaseKind =
  | "valid"
  | "schema"
  | "malformed-json"
  | "wrong-content-type"
  | "oversized-body"
  | "deep-nesting"
  | "huge-array"
  | "proto-keys"
  | "invalid-utf8"
  | "huge-header"
  | "huge-query"
  | "pagination"
  | "path-shape"
  | "wrong-method";

/** Who the request claims to be; the tokens are added when it is sent. */
export type AuthVariant =
  | "anonymous"
  | "user"
  | "session-cookie"
  | "operator"
  | "garbage-token"
  | "malformed-authorization";

export type Target = "direct" | "nginx";

/** A path segment: fixed, a generated value (percent-encoded unless `raw`), or a known id. */
export type PathSegment =
  | { text: string; raw?: boolean }
  /** The `pick`-th id (modulo) seen in answers under `collection`, else a random UUID. */
  | { collection: string; pick: number };

export interface RequestCase {
  /** Position in the run: with the seed, names the case to replay. */
  index: number;
  /** The operation it was generated from (`POST /api/tasks`). */
  route: string;
  kind: CaseKind;
  target: Target;
  auth: AuthVariant;
  method: string;
  path: PathSegment[];
  /** Query string pieces (already encoded), joined with "&". */
  query: Part[][];
  headers: [string, Part[]][];
  body?: Part[];
  /** Sent without Content-Length (Transfer-Encoding: chunked). */
  chunked?: boolean;
  /**
   * The JSON parser must refuse it (400): malformed JSON, or a `__proto__` /
   * `constructor.prototype` key, in a body the API parses.
   */
  poisonedBody?: boolean;
}

/** The API's body limit (BODY_LIMIT_BYTES in services/api/src/app.ts, nginx's client_max_body_size). */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Percent-encodes every byte of the UTF-8 form but the unreserved ones (lone surrogates as U+FFFD). */
export function percentEncode(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export function partsToBuffer(parts: readonly Part[]): Buffer {
  return Buffer.concat(
    parts.map((part) => {
      if (typeof part === "string") return Buffer.from(part, "utf8");
      if ("bytes" in part) return Buffer.from(part.bytes);
      return Buffer.from(part.repeat.repeat(part.count), "utf8");
    }),
  );
}

/** For the request line and headers: every character one byte (latin1), as Node writes them. */
export function partsToLatin1(parts: readonly Part[]): string {
  return parts
    .map((part) => {
      if (typeof part === "string") return part;
      if ("bytes" in part) return String.fromCharCode(...part.bytes);
      return part.repeat.repeat(part.count);
    })
    .join("");
}

export function partsLength(parts: readonly Part[]): number {
  let length = 0;
  for (const part of parts) {
    if (typeof part === "string") length += Buffer.byteLength(part);
    else if ("bytes" in part) length += part.bytes.length;
    else length += Buffer.byteLength(part.repeat) * part.count;
  }
  return length;
}

/** The template up to its first parameter: where ids of that collection are listed. */
export function collectionOf(template: string): string {
  const brace = template.indexOf("/{");
  return brace < 0 ? template : template.slice(0, brace);
}

// A marker no generated value contains: where a hostile fragment is spliced into a body.
const MARK = "\u0001\u0002fuzz-splice\u0002\u0001";

type JsonPath = (string | number)[];

function pathsOf(value: unknown, path: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  out.push(path);
  if (Array.isArray(value))
    for (const [i, item] of value.entries()) pathsOf(item, [...path, i], out);
  else if (value && typeof value === "object")
    for (const [key, child] of Object.entries(value)) pathsOf(child, [...path, key], out);
  return out;
}

function replaceAt(value: unknown, path: JsonPath, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string | number, ...JsonPath];
  if (Array.isArray(value)) {
    const copy = [...value];
    copy[head as number] = replaceAt(copy[head as number], rest, replacement);
    return copy;
  }
  const copy = Object.fromEntries(Object.entries(value as object));
  copy[head as string] = replaceAt(copy[head as string], rest, replacement);
  return copy;
}

/**
 * The JSON text of `value` cut around one of its values (the `pick`-th, below the root when it
 * has any): what goes before and after a fragment put in that value's place.
 */
export function spliceAround(value: unknown, pick: number): [string, string] {
  const paths = pathsOf(value);
  const inner = paths.length > 1 ? paths.slice(1) : paths;
  const path = inner[pick % inner.length] as JsonPath;
  const text = JSON.stringify(replaceAt(value, path, MARK)) ?? JSON.stringify(MARK);
  const marker = JSON.stringify(MARK);
  const at = text.indexOf(marker);
  return [text.slice(0, at), text.slice(at + marker.length)];
}

const CONTENT_TYPES = [
  "text/plain",
  "text/plain; charset=utf-8",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=fuzz",
  "application/xml",
  "application/jsonx",
  "application/json-patch+json",
  "application/problem+json",
  "application/octet-stream",
  "image/png",
  "*/*",
  "",
  "application/json; charset=utf-16",
  "application/json; charset=latin1",
  "APPLICATION/JSON",
  "application/json;;;",
  "application/json, text/plain",
  "json",
  "\u00ff/\u00ff",
];

/** Invalid UTF-8: a lone continuation byte, truncated and overlong sequences, encoded surrogates. */
const INVALID_UTF8: readonly number[][] = [
  [0x80],
  [0xff],
  [0xfe, 0xff],
  [0xc3, 0x28],
  [0xc0, 0xaf],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
];

/** Path parameters of the wrong shape: `raw` ones are sent as they are, the rest encoded. */
const PATH_SHAPES: readonly PathSegment[] = [
  { text: "" },
  { text: "." },
  { text: ".." },
  { text: "%2e%2e", raw: true },
  { text: "a/b" },
  { text: "a%2Fb", raw: true },
  { text: "%zz", raw: true },
  { text: "%C3%28", raw: true },
  { text: "%FF%FE", raw: true },
  { text: "%00", raw: true },
  { text: "\u00ff\u00fe", raw: true },
  // Out of /api once a proxy decodes %2F and resolves the dot segments.
  { text: "..%2F..%2Fhealthz", raw: true },
  { text: "..%2F..%2F..%2Findex.html", raw: true },
  { text: "%2e%2e%2f%2e%2e%2f%2e%2e", raw: true },
  { text: "stats" },
  { text: "null" },
  { text: "-1" },
  { text: "0" },
  { text: "1e309" },
  { text: "00000000-0000-0000-0000-000000000000" },
  { text: "FFFFFFFF-FFFF-7FFF-BFFF-FFFFFFFFFFFF" },
  { text: "0190a000-0000-7000-8000-00000000000" },
  { text: "0190a000-0000-7000-8000-0000000000001" },
  { text: "x".repeat(101) },
  { text: "x".repeat(5_000) },
  { text: "🙂".repeat(30) },
  { text: "' OR 1=1 --" },
  { text: "__proto__" },
  { text: "constructor" },
];

const WRONG_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/** Fragments whose key the JSON parser must refuse (Fastify's protoAction / constructorAction). */
const POISON_FRAGMENTS: readonly string[] = [
  '{"__proto__":{"polluted":true}}',
  '{"a":1,"__proto__":{"isAdmin":true}}',
  '{"\\u005f_proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '[{"__proto__":null}]',
];
/** Keys that look dangerous but are plain keys to JSON.parse. */
const HARMLESS_KEY_FRAGMENTS: readonly string[] = [
  '{"prototype":{"x":1}}',
  '{"constructor":1}',
  '{"toString":"x","hasOwnProperty":"y","valueOf":0}',
  '{"__defineGetter__":1,"__lookupGetter__":2}',
];
/** Query strings that try the same through the query parser. */
const PROTO_QUERIES: readonly string[] = [
  "__proto__=x",
  "__proto__[polluted]=1",
  "constructor[prototype][polluted]=1",
  "constructor=1",
  "toString=1&hasOwnProperty=1",
  "a[__proto__][b]=1",
];

export interface CaseGenerator {
  routes: Route[];
  /** A run's cases, each tagged with its index. */
  sample(options: { seed: number; numRuns: number; nginx: boolean }): RequestCase[];
}

export function caseGenerator(document: OpenApiDocument): CaseGenerator {
  const routes = routesOf(document);
  const arbitraries = schemaArbitraries(document, documentExamples(document));
  const { fuzzValue, strictValue, fuzzText } = arbitraries;
  /** A parameter's value as text, the schema's own (strings as they are). */
  const strictText = (schema: JsonSchema) =>
    strictValue(schema).map((v) =>
      typeof v === "string"
        ? v
        : v === null
          ? ""
          : typeof v === "object"
            ? JSON.stringify(v)
            : String(v),
    );
  const templates = new Map<string, Set<string>>();
  for (const route of routes) {
    const methods = templates.get(route.template) ?? new Set<string>();
    methods.add(route.method);
    templates.set(route.template, methods);
  }

  const auth: fc.Arbitrary<AuthVariant> = fc.oneof(
    { weight: 3, arbitrary: fc.constant("anonymous" as const) },
    { weight: 5, arbitrary: fc.constant("user" as const) },
    { weight: 1, arbitrary: fc.constant("session-cookie" as const) },
    { weight: 5, arbitrary: fc.constant("operator" as const) },
    { weight: 1, arbitrary: fc.constant("garbage-token" as const) },
    { weight: 1, arbitrary: fc.constant("malformed-authorization" as const) },
  );

  /** The body a client would send (valid-ish; strict: valid), or any JSON without a schema. */
  function bodyValue(route: Route, strict: boolean): fc.Arbitrary<unknown> {
    if (!route.bodySchema) return fc.oneof(fc.constant({}), fc.jsonValue({ maxDepth: 2 }));
    if (!strict) return fuzzValue(route.bodySchema);
    // A careful client sends what the document shows, too: its examples.
    return route.bodyExamples.length > 0
      ? fc.oneof(
          { weight: 2, arbitrary: strictValue(route.bodySchema) },
          { weight: 1, arbitrary: fc.constantFrom(...route.bodyExamples) },
        )
      : strictValue(route.bodySchema);
  }

  const parameters = (route: Route, where: "path" | "query" | "header") =>
    (route.operation.parameters ?? []).filter((p) => p.in === where);

  function pathArb(route: Route, shape: boolean, strict: boolean): fc.Arbitrary<PathSegment[]> {
    const collection = collectionOf(route.template);
    const schemas = new Map(parameters(route, "path").map((p) => [p.name, p.schema]));
    return fc.tuple(
      ...route.segments.map((segment): fc.Arbitrary<PathSegment> => {
        if (typeof segment === "string") return fc.constant({ text: segment, raw: true });
        const schema: JsonSchema = schemas.get(segment.param) ?? { type: "string" };
        const known = fc.nat().map((pick) => ({ collection, pick }));
        const generated = (strict ? strictText(schema) : fuzzText(schema)).map((text) => ({
          text,
        }));
        if (shape)
          return fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom(...PATH_SHAPES) },
            { weight: 1, arbitrary: text("binary", { maxLength: 30 }).map((text) => ({ text })) },
          );
        return fc.oneof({ weight: 3, arbitrary: known }, { weight: 2, arbitrary: generated });
      }),
    );
  }

  /**
   * Query pairs: valid-ish, valid (`strict`), or `absurd` — every value hostile, some keys
   * repeated.
   */
  function queryArb(route: Route, mode: "fuzz" | "strict" | "absurd"): fc.Arbitrary<Part[][]> {
    const params = parameters(route, "query");
    if (params.length === 0) return fc.constant([]);
    const absurd = mode === "absurd";
    return fc
      .tuple(
        ...params.map((p) => {
          const value = absurd
            ? fc.oneof(fc.constantFrom(...HOSTILE_TEXT), tokenLike)
            : mode === "strict"
              ? strictText(p.schema)
              : fuzzText(p.schema);
          const values = fc.array(value, { minLength: 1, maxLength: absurd ? 3 : 1 });
          return fc.option(
            values.map((vs) => vs.map((v) => `${percentEncode(p.name)}=${percentEncode(v)}`)),
            { freq: absurd ? 1 : p.required ? 20 : 3 },
          );
        }),
      )
      .map((pairs) => pairs.flatMap((pair) => pair ?? []).map((pair) => [pair]));
  }

  function headersArb(route: Route, strict: boolean): fc.Arbitrary<[string, Part[]][]> {
    const params = parameters(route, "header");
    if (params.length === 0) return fc.constant([]);
    return fc
      .tuple(
        ...params.map((p) =>
          fc.option(
            (strict ? strictText(p.schema) : fuzzText(p.schema)).map(
              // Node refuses control characters and code points above U+00FF in a header.
              (v): [string, Part[]] => [p.name, [v.replace(/[^\t\x20-\x7e\x80-\xff]/g, "?")]],
            ),
            { freq: 2 },
          ),
        ),
      )
      .map((headers) => headers.filter((h): h is [string, Part[]] => h !== null));
  }

  const hasBody = (method: string) => method !== "GET" && method !== "HEAD";

  /** One case of `kind` for `route` (without its index, target and auth). */
  function kindArb(route: Route, kind: CaseKind) {
    type Draft = Omit<RequestCase, "index" | "target" | "auth" | "route" | "kind">;
    const strict = kind === "valid";
    const base = fc.record({
      path: pathArb(route, kind === "path-shape", strict),
      query: queryArb(route, kind === "pagination" ? "absurd" : strict ? "strict" : "fuzz"),
      headers: headersArb(route, strict),
      value: bodyValue(route, strict),
      pick: fc.nat(),
    });
    const jsonBody = (value: unknown): Part[] | undefined =>
      route.bodySchema ? [JSON.stringify(value) ?? "null"] : undefined;
    const withJson = (headers: [string, Part[]][]): [string, Part[]][] => [
      ...headers,
      ["content-type", ["application/json"]],
    ];
    const spliced = (value: unknown, pick: number, fragment: Part[]): Part[] => {
      const [before, after] = spliceAround(value, pick);
      return [before, ...fragment, after];
    };

    switch (kind) {
      case "valid":
      case "schema":
      case "pagination":
      case "path-shape":
        return base.map(({ path, query, headers, value }): Draft => {
          const body = jsonBody(value);
          return body
            ? { method: route.method, path, query, headers: withJson(headers), body }
            : { method: route.method, path, query, headers };
        });
      case "wrong-method": {
        const documented = templates.get(route.template) ?? new Set();
        const others = WRONG_METHODS.filter((m) => !documented.has(m) && m !== "HEAD");
        return fc.tuple(base, fc.constantFrom(...others)).map(
          ([{ path, query, headers, value }, method]): Draft =>
            hasBody(method)
              ? {
                  method,
                  path,
                  query,
                  headers: withJson(headers),
                  body: [JSON.stringify(value) ?? "{}"],
                }
              : { method, path, query, headers },
        );
      }
      case "malformed-json":
        return fc
          .tuple(
            base,
            fc.oneof(
              fc.constantFrom(
                "",
                " ",
                "{",
                "}",
                "[",
                '{"a":}',
                "{'a':1}",
                "{a:1}",
                "[1,]",
                '{"a":1,}',
                "NaN",
                "undefined",
                '{"a":"\\x41"}',
                "/* c */ {}",
                "\ufeff{}",
                '{"a":1}{"b":2}',
                '"unterminated',
                "tru",
                "01",
                '{"a":1e}',
                "\u0000",
              ),
              fc.string({ maxLength: 20 }),
            ),
            fc.nat(),
          )
          .map(([{ path, query, headers, value }, garbage, cut]): Draft => {
            const text = JSON.stringify(value) ?? "";
            // Cut, garbage inserted, or garbage alone — whichever still parses gets "]" appended.
            let malformed =
              [text.slice(0, cut % (text.length + 1)), garbage + text, garbage][cut % 3] ?? "";
            // (The API's parser skips a leading byte order mark, as RFC 8259 allows.)
            if (malformed.trim() !== "")
              try {
                JSON.parse(malformed.replace(/^\ufeff/, ""));
                malformed += "]";
              } catch {}
            return {
              method: route.method,
              path,
              query,
              headers: withJson(headers),
              body: [malformed],
              poisonedBody: hasBody(route.method),
            };
          });
      case "wrong-content-type":
        return fc.tuple(base, fc.constantFrom(...CONTENT_TYPES), fc.boolean()).map(
          ([{ path, query, headers, value }, type, omit]): Draft => ({
            method: route.method,
            path,
            query,
            headers: omit ? headers : [...headers, ["content-type", [type]]],
            body: [JSON.stringify(value) ?? "x"],
          }),
        );
      case "oversized-body":
        return fc
          .tuple(base, fc.integer({ min: 1, max: BODY_LIMIT_BYTES + 512 * 1024 }), fc.boolean())
          .map(([{ path, query, headers, value, pick }, extra, chunked]): Draft => {
            const [before, after] = spliceAround(value, pick);
            const around = Buffer.byteLength(before) + Buffer.byteLength(after) + 2;
            const count = Math.max(1, BODY_LIMIT_BYTES + extra - around);
            return {
              method: route.method,
              path,
              query,
              headers: withJson(headers),
              body: [before, '"', { repeat: "x", count }, '"', after],
              chunked,
            };
          });
      case "deep-nesting":
        return fc
          .tuple(
            base,
            fc.oneof(
              fc.integer({ min: 20, max: 500 }),
              fc.integer({ min: 500, max: 20_000 }),
              fc.integer({ min: 20_000, max: 100_000 }),
            ),
            fc.boolean(),
          )
          .map(
            ([{ path, query, headers, value, pick }, depth, arrays]): Draft => ({
              method: route.method,
              path,
              query,
              headers: withJson(headers),
              body: spliced(
                value,
                pick,
                arrays
                  ? [
                      { repeat: "[", count: depth },
                      { repeat: "]", count: depth },
                    ]
                  : [{ repeat: '{"a":', count: depth }, "1", { repeat: "}", count: depth }],
              ),
            }),
          );
      case "huge-array":
        return fc
          .tuple(
            base,
            fc.integer({ min: 1_000, max: 100_000 }),
            fc.constantFrom("0,", '"x",', "null,", "{},", '{"sku":"KB-101","quantity":1},'),
          )
          .map(([{ path, query, headers, value, pick }, length, element]): Draft => {
            const count = Math.min(length, Math.floor(700_000 / element.length));
            return {
              method: route.method,
              path,
              query,
              headers: withJson(headers),
              body: spliced(value, pick, ["[", { repeat: element, count }, "0]"]),
            };
          });
      case "proto-keys":
        return fc
          .tuple(
            base,
            fc.constantFrom(...POISON_FRAGMENTS, ...HARMLESS_KEY_FRAGMENTS),
            fc.constantFrom(...PROTO_QUERIES),
            fc.constantFrom("body", "query", "header"),
          )
          .map(([{ path, query, headers, value, pick }, fragment, protoQuery, where]): Draft => {
            if (where === "query")
              return { method: route.method, path, query: [...query, [protoQuery]], headers };
            if (where === "header")
              return {
                method: route.method,
                path,
                query,
                headers: [...headers, ["__proto__", ["polluted"]], ["constructor", ["x"]]],
              };
            const poisoned = POISON_FRAGMENTS.includes(fragment);
            return {
              method: route.method,
              path,
              query,
              headers: withJson(headers),
              body: spliced(value, pick, [fragment]),
              poisonedBody: poisoned && hasBody(route.method),
            };
          });
      case "invalid-utf8":
        return fc
          .tuple(
            base,
            fc.constantFrom(...INVALID_UTF8),
            fc.constantFrom("body", "path", "query", "header"),
          )
          .map(([{ path, query, headers, value, pick }, bytes, where]): Draft => {
            const latin1 = String.fromCharCode(...bytes);
            const encoded = bytes.map((b) => `%${b.toString(16).toUpperCase()}`).join("");
            if (where === "path") {
              const at = route.segments.findIndex((s) => typeof s !== "string");
              const segments = [...path];
              const i = at < 0 ? segments.length - 1 : at;
              segments[i] = { text: pick % 2 ? latin1 : encoded, raw: true };
              return { method: route.method, path: segments, query, headers };
            }
            if (where === "query")
              return {
                method: route.method,
                path,
                query: [...query, [`${pick % 2 ? "cursor" : "q"}=${pick % 3 ? encoded : latin1}`]],
                headers,
              };
            if (where === "header")
              return {
                method: route.method,
                path,
                query,
                headers: [...headers, ["x-fuzz", [latin1]], ["idempotency-key", [`k${latin1}`]]],
              };
            return {
              method: route.method,
              path,
              query,
              headers: withJson(headers),
              body: spliced(value, pick, ['"a', { bytes }, 'b"']),
            };
          });
      case "huge-header":
        return fc
          .tuple(
            base,
            fc.integer({ min: 4_000, max: 70_000 }),
            fc.constantFrom("one", "many", "cookie", "authorization"),
          )
          .map(([{ path, query, headers, value }, size, how]): Draft => {
            const big: [string, Part[]][] =
              how === "many"
                ? Array.from({ length: Math.ceil(size / 100) }, (_, i): [string, Part[]] => [
                    `x-fuzz-${i}`,
                    [{ repeat: "h", count: 90 }],
                  ])
                : how === "cookie"
                  ? [["cookie", ["taskflow_session=", { repeat: "c", count: size }]]]
                  : how === "authorization"
                    ? [["authorization", ["Bearer ", { repeat: "a", count: size }]]]
                    : [["x-fuzz", [{ repeat: "h", count: size }]]];
            const body = jsonBody(value);
            return {
              method: route.method,
              path,
              query,
              headers: [...(body ? withJson(headers) : headers), ...big],
              ...(body ? { body } : {}),
            };
          });
      case "huge-query":
        return fc
          .tuple(
            base,
            fc.integer({ min: 1_000, max: 100_000 }),
            fc.constantFrom("one", "many", "param"),
          )
          .map(([{ path, query, headers }, size, how]): Draft => {
            const name = parameters(route, "query")[0]?.name ?? "q";
            const piece: Part[] =
              how === "many"
                ? [{ repeat: "a=1&", count: Math.ceil(size / 4) }, "b=2"]
                : how === "param"
                  ? [`${percentEncode(name)}=`, { repeat: "9", count: size }]
                  : ["pad=", { repeat: "q", count: size }];
            return { method: route.method, path, query: [...query, piece], headers };
          });
    }
  }

  function routeArb(route: Route, nginx: boolean): fc.Arbitrary<Omit<RequestCase, "index">> {
    const hasQuery = parameters(route, "query").length > 0;
    const hasPathParams = route.segments.some((s) => typeof s !== "string");
    const kinds: [CaseKind, number][] = [
      ["valid", 15],
      ["schema", 30],
      ["pagination", hasQuery ? 8 : 0],
      ["path-shape", hasPathParams ? 8 : 0],
      ["malformed-json", 5],
      ["wrong-content-type", 4],
      ["oversized-body", 2],
      ["deep-nesting", 3],
      ["huge-array", 2],
      ["proto-keys", 4],
      ["invalid-utf8", 4],
      ["huge-header", 3],
      ["huge-query", 3],
      ["wrong-method", 3],
    ];
    const viaNginx = nginx && route.template.startsWith("/api");
    const target: fc.Arbitrary<Target> = viaNginx
      ? fc.constantFrom<Target>("direct", "nginx")
      : fc.constant<Target>("direct");
    return fc
      .oneof(
        ...kinds
          .filter(([, weight]) => weight > 0)
          .map(([kind, weight]) => ({
            weight,
            arbitrary: kindArb(route, kind).map((draft) => ({ kind, draft })),
          })),
      )
      .chain(({ kind, draft }) =>
        fc.record({ target, auth }).map(({ target: t, auth: a }) => ({
          route: route.key,
          kind,
          target: t,
          auth: a,
          ...draft,
        })),
      );
  }

  return {
    routes,
    sample({ seed, numRuns, nginx }) {
      // Every operation equally often: each gets about numRuns / routes.length cases.
      const arbitrary = fc.oneof(...routes.map((route) => routeArb(route, nginx)));
      return fc
        .sample(arbitrary, { seed, numRuns })
        .map((draft, index) => ({ index, ...draft }) as RequestCase);
    },
  };
}
