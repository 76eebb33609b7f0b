import { HttpProblem } from "./problem.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a path or query value can be one of our ids (anything else is simply not found). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** An opaque page cursor from the last id of a page (ids are time-ordered UUIDv7). */
export function encodeCursor(id: string): string {
  return Buffer.from(id).toString("base64url");
}

/** The id inside a cursor this API gave out; a 422 for anything else. */
export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, "base64url").toString();
  if (!UUID.test(id)) {
    throw new HttpProblem(422, "invalid cursor", {
      errors: [{ path: "/querystring/cursor", message: "not a cursor from this API" }],
    });
  }
  return id;
}
