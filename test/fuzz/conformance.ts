import { Ajv, type ValidateFunction } from "ajv";
import type { Answer } from "./http-sender.ts";
import { matchRoute, type OpenApiDocument, type Route } from "./openapi.ts";
import type { RequestCase } from "./request-cases.ts";

/**
 * Whether an answer is one the OpenAPI document allows: its status documented for the
 * operation the router picked (or one of the generic errors any route may answer), its
 * media type one the document names for that status, its body valid against that schema
 * (ajv) — and whatever the case makes due (400 for a body the JSON parser must refuse, 413
 * for a body over the limit).
 */

/**
 * Answers any route may give without documenting them, all application/problem+json:
 * a request the HTTP layer or the JSON parser refuses (400), no such route or method (404),
 * a body over the limit (413), a URL or a path parameter too long (414), a body of a media
 * type no parser takes (415), headers too large (431), and rate limits (429). 401, 403 and
 * 422 are not generic: they depend on the route, and the document says where they happen.
 */
export const GENERIC_ERRORS: ReadonlySet<number> = new Set([400, 404, 413, 414, 415, 429, 431]);

export const PROBLEM_JSON = "application/problem+json";

export interface Verdict {
  /** The documented operation that answered, as the router would pick it. */
  route: Route | undefined;
  /** What is wrong with the answer; empty when it conforms. */
  problems: string[];
}

const pointer = (...tokens: string[]) =>
  tokens.map((t) => `/${t.replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");

const mediaTypeOf = (answer: Answer) =>
  String(answer.headers["content-type"] ?? "")
    .split(";")[0]
    ?.trim()
    .toLowerCase() ?? "";

function describeErrors(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 3)
    .map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`)
    .join("; ");
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createConformanceChecker(document: OpenApiDocument, routes: readonly Route[]) {
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  ajv.addFormat(
    "date-time",
    (value: string) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)),
  );
  ajv.addFormat("uuid", UUID);
  ajv.addFormat("email", /^[^\s@]+@[^\s@]+$/);
  ajv.addFormat("uri", () => true);
  ajv.addSchema(document as object, "openapi");
  const compiled = new Map<string, ValidateFunction>();
  const validatorAt = (path: string): ValidateFunction => {
    let validate = compiled.get(path);
    if (!validate) {
      const found = ajv.getSchema(`openapi#${path}`);
      if (!found) throw new Error(`no schema at ${path}`);
      validate = found;
      compiled.set(path, validate);
    }
    return validate;
  };
  const problemSchema = pointer("components", "schemas", "Problem");

  function parseJson(answer: Answer, problems: string[]): { ok: boolean; value?: unknown } {
    try {
      return { ok: true, value: JSON.parse(answer.body.toString("utf8")) };
    } catch {
      problems.push(
        `the ${answer.status} body is not JSON: ${answer.body.toString("utf8").slice(0, 120)}`,
      );
      return { ok: false };
    }
  }

  /** A problem answer is RFC 9457 problem details, whoever wrote it (API or nginx). */
  function checkProblem(answer: Answer, problems: string[]) {
    const media = mediaTypeOf(answer);
    if (media !== PROBLEM_JSON) {
      problems.push(`a ${answer.status} answered as "${media}", not ${PROBLEM_JSON}`);
      return;
    }
    const body = parseJson(answer, problems);
    if (!body.ok) return;
    const validate = validatorAt(problemSchema);
    if (!validate(body.value))
      problems.push(
        `the ${answer.status} problem does not match Problem: ${describeErrors(validate)}`,
      );
    else if ((body.value as { status?: unknown }).status !== answer.status)
      problems.push(
        `a ${answer.status} problem says status ${String((body.value as { status?: unknown }).status)}`,
      );
  }

  function checkDocumented(route: Route, answer: Answer, problems: string[]) {
    const status = String(answer.status);
    const documented = route.operation.responses?.[status];
    if (!documented) return;
    const content = documented.content ?? {};
    const media = mediaTypeOf(answer);
    const declared = Object.keys(content);
    if (declared.length === 0) {
      // Documented without a body (a 204): there must be none.
      if (answer.body.length > 0)
        problems.push(`${route.key} ${status} has a body the document does not describe`);
      return;
    }
    if (!declared.includes(media)) {
      problems.push(
        `${route.key} ${status} answered as "${media}", the document says ${declared.join(" or ")}`,
      );
      return;
    }
    if (answer.stream || !content[media]?.schema) return;
    if (!/json$/.test(media)) return;
    const body = parseJson(answer, problems);
    if (!body.ok) return;
    const validate = validatorAt(
      pointer(
        "paths",
        route.template,
        route.method.toLowerCase(),
        "responses",
        status,
        "content",
        media,
        "schema",
      ),
    );
    if (!validate(body.value))
      problems.push(
        `the ${route.key} ${status} body does not match its schema: ${describeErrors(validate)}`,
      );
  }

  return {
    /**
     * `sentPath` is the path as sent (encoded); `passesAuth`: the request is let through
     * authentication and authorization (a public route, or the operator's token).
     */
    check(c: RequestCase, sentPath: string, answer: Answer, passesAuth: boolean): Verdict {
      const problems: string[] = [];
      const route = matchRoute(routes, c.method, sentPath);
      if (answer.status === 0) {
        // Also a body over the limit sent straight to the API: it reads and drops the rest of
        // a body it refuses (a lingering close, as nginx does), so the 413 always arrives.
        problems.push(`no answer: ${answer.error ?? "?"}`);
        return { route, problems };
      }
      if (answer.status >= 500) problems.push(`a ${answer.status}`);
      const documented = route?.operation.responses?.[String(answer.status)] !== undefined;
      if (route && documented) {
        checkDocumented(route, answer, problems);
        if (answer.status >= 400 && mediaTypeOf(answer) === PROBLEM_JSON)
          checkProblem(answer, problems);
      } else if (GENERIC_ERRORS.has(answer.status)) {
        checkProblem(answer, problems);
      } else if (route) {
        problems.push(`${answer.status} is not documented for ${route.key}`);
      } else {
        problems.push(
          `${answer.status} for a path no operation matches (expected a generic error)`,
        );
      }

      const parsesBody = c.method !== "GET" && c.method !== "HEAD";
      // Due answers. nginx refuses a body over its limit before the API sees anything;
      // the API authenticates first (onRequest), then reads the body.
      // A request line refused as it is (a URL that does not decode, 400; a path parameter or
      // a URL too long, 414) or headers too large (431) are answered before any body is read.
      const beforeBody = [400, 414, 431].includes(answer.status);
      if (
        c.kind === "oversized-body" &&
        (c.target === "nginx" || (route && parsesBody && passesAuth))
      ) {
        if (answer.status !== 413 && !beforeBody)
          problems.push(`a body over the limit answered ${answer.status}, not 413`);
      }
      if (c.poisonedBody && route && passesAuth && answer.status !== 400 && answer.status !== 414)
        problems.push(`a body the JSON parser must refuse answered ${answer.status}, not 400`);
      return { route, problems };
    },
  };
}
