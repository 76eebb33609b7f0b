import type { FastifyInstance } from "fastify";
import { HttpProblem, type Problem } from "./problem.ts";

/** The deepest nesting of arrays and objects a request's JSON may have (a task's payload, …). */
export const MAX_JSON_DEPTH = 64;

// U+0000 (PostgreSQL's text and jsonb cannot hold it) and unpaired surrogates (not Unicode
// text: jsonb refuses them; text would silently store U+FFFD instead).
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is what it looks for
const UNSTORABLE = /[\u0000\p{Cs}]/u;

type FieldProblem = NonNullable<Problem["errors"]>[number];

const pointerToken = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");

/**
 * The first thing in `value` no route can store or hand on: text with U+0000 or an unpaired
 * surrogate (in a value or a key), or nesting deeper than MAX_JSON_DEPTH. Iterative, so a
 * hostile depth costs no stack.
 */
export function findUnstorable(value: unknown, root = ""): FieldProblem | undefined {
  const stack: [unknown, string, number][] = [[value, root, 0]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [node, path, depth] = next;
    if (typeof node === "string") {
      if (UNSTORABLE.test(node))
        return { path: path || "/", message: "must not contain U+0000 or unpaired surrogates" };
      continue;
    }
    if (node === null || typeof node !== "object") continue;
    if (depth >= MAX_JSON_DEPTH)
      return { path: path || "/", message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` };
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], `${path}/${i}`, depth + 1]);
      continue;
    }
    for (const [key, child] of Object.entries(node)) {
      const at = `${path}/${pointerToken(key)}`;
      if (UNSTORABLE.test(key))
        return { path: at, message: "must not contain U+0000 or unpaired surrogates" };
      stack.push([child, at, depth + 1]);
    }
  }
  return undefined;
}

/**
 * Whether findUnstorable would find anything, without building a path per node: the check
 * every request pays. The paths are built only for a request that is refused.
 */
export function holdsUnstorable(value: unknown): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [node, depth] = next;
    if (typeof node === "string") {
      if (UNSTORABLE.test(node)) return true;
      continue;
    }
    if (node === null || typeof node !== "object") continue;
    if (depth >= MAX_JSON_DEPTH) return true;
    if (Array.isArray(node)) {
      for (const child of node) stack.push([child, depth + 1]);
      continue;
    }
    for (const key in node) {
      if (!Object.hasOwn(node, key)) continue;
      if (UNSTORABLE.test(key)) return true;
      stack.push([(node as Record<string, unknown>)[key], depth + 1]);
    }
  }
  return false;
}

/**
 * Before schema validation, every part of the request a route declares (body, query string,
 * path parameters) is refused with a 422 if it holds what findUnstorable finds: otherwise
 * PostgreSQL or a JSON.stringify deep in the route would turn it into a 500.
 */
export function registerInputLimits(app: FastifyInstance) {
  app.addHook("preValidation", async (request) => {
    const schema = request.routeOptions.schema;
    if (!schema) return;
    const parts: [unknown, unknown, string][] = [
      [schema.body, request.body, ""],
      [schema.querystring, request.query, "/querystring"],
      [schema.params, request.params, "/params"],
    ];
    for (const [declared, value, root] of parts) {
      if (!declared || !holdsUnstorable(value)) continue;
      const problem = findUnstorable(value, root);
      if (problem) {
        throw new HttpProblem(422, "the request holds text or nesting this API cannot store", {
          type: "urn:taskflow:problem:validation",
          errors: [problem],
        });
      }
    }
  });
}
