import Ajv, { type Options } from "ajv";
import addFormats from "ajv-formats";
import type { FastifySchema, FastifySchemaCompiler } from "fastify";

const common: Options = {
  removeAdditional: false,
  useDefaults: true,
  allErrors: false,
  strict: false,
};

function withFormats(ajv: Ajv): Ajv {
  addFormats(ajv);
  return ajv;
}

/**
 * Request validation. A JSON body is taken as typed: a number where a string is expected is
 * a 422, not silently converted. Query strings, params and headers arrive as text, so they
 * are coerced to the declared types. Unknown fields are refused everywhere a schema says so.
 */
export function validatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const body = withFormats(new Ajv({ ...common, coerceTypes: false }));
  const text = withFormats(new Ajv({ ...common, coerceTypes: "array" }));
  return ({ schema, httpPart }) => (httpPart === "body" ? body : text).compile(schema as object);
}
