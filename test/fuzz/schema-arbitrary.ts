import fc from "fast-check";
import { type JsonSchema, type OpenApiDocument, resolveSchema } from "./openapi.ts";

/**
 * fast-check arbitraries from JSON Schemas — those of the OpenAPI document, never written per
 * route. `fuzzValue` is "valid-ish": mostly what the schema allows (its examples and defaults
 * among them), now and then a value it does not (a bound crossed, a type confused, a field
 * missing or unknown, a hostile string), at any depth.
 */

/** Strings that have broken parsers, databases and templates; any string field may get one. */
export const HOSTILE_STRINGS: readonly string[] = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udfffy",
  "\ufeff",
  "\u202eevil",
  "🙂",
  "e\u0301",
  "ǅ",
  "\r\n",
  "\t",
  "%00",
  "%",
  "%zz",
  "../../../etc/passwd",
  "' OR '1'='1",
  '"; DROP TABLE tasks; --',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Log4Shell-style lookup, as text
  "${jndi:ldap://127.0.0.1/x}",
  "{{7*7}}",
  "<script>alert(1)</script>",
  "__proto__",
  "constructor",
  "prototype",
  "null",
  "undefined",
  "NaN",
  "-1",
  "1e309",
  "0x10",
  "[]",
  "{}",
  "x".repeat(1_001),
  "\u00ff".repeat(300),
];

/** Query and path text where a number, a boolean or an enum is expected ("absurd pagination"). */
export const HOSTILE_TEXT: readonly string[] = [
  "-1",
  "0",
  "-0",
  "1.5",
  "1e2",
  "1e309",
  "-1e309",
  "9".repeat(400),
  "9007199254740993",
  "-9223372036854775809",
  "0x10",
  "0b1",
  " 5",
  "5 ",
  "5abc",
  "NaN",
  "Infinity",
  "-Infinity",
  "true",
  "null",
  "[]",
  "{}",
  "",
  ...HOSTILE_STRINGS,
];

export interface SchemaArbitraries {
  /** Valid-ish values of `schema`. */
  fuzzValue(schema: JsonSchema): fc.Arbitrary<unknown>;
  /** What `schema` allows at its top level; valid-ish values below it. */
  validValue(schema: JsonSchema): fc.Arbitrary<unknown>;
  /** Values of `schema` all the way down (as far as the generator knows): a careful client's. */
  strictValue(schema: JsonSchema): fc.Arbitrary<unknown>;
  /** Valid-ish text for a query, path or header parameter of `schema`. */
  fuzzText(schema: JsonSchema): fc.Arbitrary<string>;
}

// Units made once: a fresh "binary" string arbitrary maps all of Unicode (~0.3 s each).
const UNITS = {
  binary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  grapheme: fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }),
  "grapheme-ascii": fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }),
};

/** Any string of `unit`s (binary: every code point, control characters and U+0000 included). */
export function text(
  unit: keyof typeof UNITS,
  constraints: { minLength?: number; maxLength?: number } = {},
): fc.Arbitrary<string> {
  return fc.string({ unit: UNITS[unit], ...constraints });
}

/** Opaque-token-like strings: what cursors, keys and ids look like, and garbage that doesn't. */
export const tokenLike: fc.Arbitrary<string> = fc.oneof(
  fc.uuid().map((id) => Buffer.from(id).toString("base64url")),
  fc.uint8Array({ minLength: 0, maxLength: 64 }).map((b) => Buffer.from(b).toString("base64url")),
  fc.uint8Array({ minLength: 0, maxLength: 48 }).map((b) => Buffer.from(b).toString("base64")),
  fc.uuid(),
  fc.stringMatching(/^[A-Za-z0-9+/=_-]{1,150}$/),
);

const isoDate = fc
  .date({
    min: new Date("1970-01-01T00:00:00Z"),
    max: new Date("2100-01-01T00:00:00Z"),
    noInvalidDate: true,
  })
  .map((date) => date.toISOString());

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (typeof schema.type === "string") return [schema.type];
  return [];
}

export function schemaArbitraries(
  document: OpenApiDocument,
  examples: readonly string[],
): SchemaArbitraries {
  const resolve = (schema: JsonSchema) => resolveSchema(document, schema);
  const fitsString = (schema: JsonSchema, value: string) =>
    value.length >= (schema.minLength ?? 0) &&
    value.length <= (schema.maxLength ?? Number.POSITIVE_INFINITY) &&
    (!schema.pattern || new RegExp(schema.pattern, "u").test(value));

  function validString(schema: JsonSchema): fc.Arbitrary<string> {
    const min = schema.minLength ?? 0;
    const max = Math.max(min, Math.min(schema.maxLength ?? 48, 48));
    const own = [
      ...(schema.examples ?? []),
      ...(typeof schema.default === "string" ? [schema.default] : []),
    ].filter((value): value is string => typeof value === "string");
    const realistic = [...own, ...examples].filter((value) => fitsString(schema, value));
    const options: fc.Arbitrary<string>[] = [];
    if (schema.format === "uuid") options.push(fc.uuid());
    else if (schema.format === "date-time") options.push(isoDate);
    else if (schema.format === "email")
      options.push(fc.emailAddress().filter((email) => fitsString(schema, email)));
    else if (schema.pattern && schema.pattern !== "\\S")
      options.push(
        fc.stringMatching(new RegExp(schema.pattern)).filter((s) => fitsString(schema, s)),
      );
    else {
      const of = (unit: keyof typeof UNITS) =>
        text(unit, { minLength: min, maxLength: max }).filter((s) => fitsString(schema, s));
      options.push(of("grapheme-ascii"), of("grapheme"), of("binary"));
      options.push(tokenLike.filter((s) => fitsString(schema, s)));
    }
    if (own.length > 0) options.push(fc.constantFrom(...own));
    if (realistic.length > 0) options.push(fc.constantFrom(...realistic));
    return fc.oneof(...options);
  }

  function validNumber(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
    const min = schema.minimum ?? (integer ? -1_000_000 : -1e9);
    const max = schema.maximum ?? (integer ? 1_000_000 : 1e9);
    const edges = [min, max, ...(typeof schema.default === "number" ? [schema.default] : [])];
    return fc.oneof(
      integer ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true }),
      fc.constantFrom(...edges),
    );
  }

  /** A value the schema refuses (as far as can be told without running the validator). */
  function invalidValue(schema: JsonSchema): fc.Arbitrary<unknown> {
    const s = resolve(schema);
    const types = typesOf(s);
    const options: fc.Arbitrary<unknown>[] = [
      fc.constantFrom<unknown>(null, true, 0, -1, 1.5, "", [], {}, "\u0000", 1e308, -(2 ** 63)),
      fc.constantFrom(...HOSTILE_STRINGS),
    ];
    if (types.includes("string")) {
      if (s.maxLength !== undefined) options.push(fc.constant("a".repeat(s.maxLength + 1)));
      if ((s.minLength ?? 0) > 0) options.push(fc.constant("a".repeat((s.minLength ?? 1) - 1)));
      options.push(fc.integer());
    }
    if (types.includes("integer") || types.includes("number")) {
      if (s.minimum !== undefined) options.push(fc.constant(s.minimum - 1));
      if (s.maximum !== undefined) options.push(fc.constant(s.maximum + 1));
      options.push(
        fc.constantFrom<unknown>(2 ** 53 + 2, -(2 ** 53) - 2, 0.5, "1", Number.MAX_VALUE),
      );
    }
    if (types.includes("array")) {
      if (s.maxItems !== undefined && s.maxItems < 2_000) {
        const item = s.items ? validValue(s.items) : fc.constant(0);
        options.push(fc.array(item, { minLength: s.maxItems + 1, maxLength: s.maxItems + 3 }));
      }
      options.push(fc.constant({ length: 1 }));
    }
    if (types.includes("object") || s.properties) {
      options.push(objectValue(s, true));
      options.push(fc.constant([]));
    }
    if (s.enum || s.const !== undefined || s.anyOf) options.push(fc.string({ maxLength: 12 }));
    return fc.oneof(...options);
  }

  /**
   * An object of `schema`: its fields valid-ish (strict: valid); with `breakIt`, one required
   * field dropped or an unknown one added.
   */
  function objectValue(
    schema: JsonSchema,
    breakIt: boolean,
    strict = false,
  ): fc.Arbitrary<unknown> {
    const child = strict ? strictValue : fuzzValue;
    const properties = Object.entries(schema.properties ?? {});
    const required = new Set(schema.required ?? []);
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [name, property] of properties) model[name] = child(property);
    const base = fc.record(model, { requiredKeys: [...required] });
    const extraEntries = (valueSchema: JsonSchema | undefined) =>
      fc.array(
        fc.tuple(
          strict
            ? fc.string({ minLength: 1, maxLength: 12 })
            : fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...HOSTILE_STRINGS)),
          valueSchema ? child(valueSchema) : fc.jsonValue({ maxDepth: 2 }),
        ),
        { maxLength: 4 },
      );
    const open =
      schema.additionalProperties === undefined ||
      schema.additionalProperties === true ||
      typeof schema.additionalProperties === "object" ||
      schema.patternProperties !== undefined;
    const openValues =
      typeof schema.additionalProperties === "object"
        ? schema.additionalProperties
        : Object.values(schema.patternProperties ?? {})[0];
    const valid = open
      ? fc
          .tuple(base, extraEntries(openValues))
          // Object.fromEntries defines own keys: "__proto__" stays a key, not a prototype.
          .map(([value, extra]) => ({ ...Object.fromEntries(extra), ...(value as object) }))
      : base;
    if (!breakIt) return valid;
    return fc.oneof(
      fc
        .tuple(valid, fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue({ maxDepth: 1 }))
        .map(([value, key, extra]) =>
          Object.fromEntries([...Object.entries(value as object), [`${key}_unknown`, extra]]),
        ),
      ...(required.size > 0
        ? [
            fc.tuple(valid, fc.constantFrom(...required)).map(([value, drop]) => {
              const copy = Object.fromEntries(Object.entries(value as object));
              delete copy[drop];
              return copy;
            }),
          ]
        : []),
    );
  }

  // One arbitrary per schema and role, built on first use.
  const memo = new Map<string, WeakMap<JsonSchema, fc.Arbitrary<unknown>>>();
  function memoized<T>(
    role: string,
    schema: JsonSchema,
    build: () => fc.Arbitrary<T>,
  ): fc.Arbitrary<T> {
    const cache = memo.get(role) ?? new WeakMap<JsonSchema, fc.Arbitrary<unknown>>();
    memo.set(role, cache);
    let arbitrary = cache.get(schema);
    if (!arbitrary) {
      arbitrary = build();
      cache.set(schema, arbitrary);
    }
    return arbitrary as fc.Arbitrary<T>;
  }

  /** What the schema allows at this level; below it, valid-ish values. */
  function validValue(schema: JsonSchema): fc.Arbitrary<unknown> {
    return memoized("valid", schema, () => buildValidValue(schema, false));
  }

  /** What the schema allows, all the way down: what a careful client sends. */
  function strictValue(schema: JsonSchema): fc.Arbitrary<unknown> {
    return memoized("strict", schema, () => buildValidValue(schema, true));
  }

  function buildValidValue(schema: JsonSchema, strict: boolean): fc.Arbitrary<unknown> {
    const s = resolve(schema);
    const same = strict ? strictValue : validValue;
    const child = strict ? strictValue : fuzzValue;
    if (s.const !== undefined) return fc.constant(s.const);
    if (s.enum && s.enum.length > 0) return fc.constantFrom(...s.enum);
    const alternatives = s.anyOf ?? s.oneOf;
    if (alternatives && alternatives.length > 0) return fc.oneof(...alternatives.map(same));
    const types = typesOf(s);
    if (types.length > 1) return fc.oneof(...types.map((type) => same({ ...s, type })));
    switch (types[0]) {
      case "string":
        // Strict: printable text, the kind an application stores.
        return strict
          ? validString(s).filter((text) => !/[\p{Cc}\p{Cs}]/u.test(text))
          : validString(s);
      case "integer":
        return validNumber(s, true);
      case "number":
        return validNumber(s, false);
      case "boolean":
        return fc.boolean();
      case "null":
        return fc.constant(null);
      case "array":
        return fc.array(s.items ? child(s.items) : fc.jsonValue({ maxDepth: 1 }), {
          minLength: s.minItems ?? 0,
          maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 4, 4)),
        });
      case "object":
        return objectValue(s, false, strict);
      default:
        if (s.properties) return objectValue(s, false, strict);
        if (strict)
          return fc.jsonValue({ maxDepth: 2 }).filter((v) => !/\\u00[01]/.test(JSON.stringify(v)));
        // No constraint at all (TypeBox's Unknown): any JSON, hostile strings included.
        return fc.oneof(
          { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
          { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
          {
            weight: 1,
            arbitrary: fc.dictionary(
              fc.string({ maxLength: 8 }),
              fc.constantFrom(...HOSTILE_STRINGS),
              {
                maxKeys: 3,
                noNullPrototype: true,
              },
            ),
          },
        );
    }
  }

  function fuzzValue(schema: JsonSchema): fc.Arbitrary<unknown> {
    return memoized("fuzz", schema, () =>
      fc.oneof(
        { weight: 12, arbitrary: validValue(schema) },
        { weight: 1, arbitrary: invalidValue(schema) },
      ),
    );
  }

  /** A parameter's value as the query string or path carries it. */
  function asText(value: unknown): string {
    if (typeof value === "string") return value;
    if (value === null || value === undefined) return "";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function fuzzText(schema: JsonSchema): fc.Arbitrary<string> {
    return memoized("text", schema, () => buildFuzzText(schema));
  }

  function buildFuzzText(schema: JsonSchema): fc.Arbitrary<string> {
    return fc.oneof(
      { weight: 8, arbitrary: validValue(schema).map(asText) },
      { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_TEXT) },
      { weight: 1, arbitrary: tokenLike },
      { weight: 1, arbitrary: text("binary", { maxLength: 40 }) },
    );
  }

  return { fuzzValue, validValue, strictValue, fuzzText };
}
