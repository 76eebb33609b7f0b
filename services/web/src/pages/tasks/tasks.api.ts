import { api, type CreateTaskBody, type TaskStatus, unwrap } from "../../api/client.ts";

/** The task calls the pages make; every type comes from the generated schema. */
export const tasksApi = {
  list(query: { status?: TaskStatus | undefined; cursor?: string | undefined; limit?: number }) {
    return unwrap(api.GET("/api/tasks", { params: { query } }));
  },
  stats() {
    return unwrap(api.GET("/api/tasks/stats"));
  },
  get(id: string) {
    return unwrap(api.GET("/api/tasks/{id}", { params: { path: { id } } }));
  },
  /** The same `idempotencyKey` again replays the first answer: a retried submit is one task. */
  create(body: CreateTaskBody, idempotencyKey: string) {
    return unwrap(
      api.POST("/api/tasks", { body, params: { header: { "idempotency-key": idempotencyKey } } }),
    );
  },
  /** The services it went through (GET /api/tasks/{id}/journey). */
  journey(id: string) {
    return unwrap(api.GET("/api/tasks/{id}/journey", { params: { path: { id } } }));
  },
  cancel(id: string) {
    return unwrap(api.POST("/api/tasks/{id}/cancel", { params: { path: { id } } }));
  },
  /** Operators only: a FAILED task back to PENDING (the API has no retry for owners). */
  retry(id: string) {
    return unwrap(api.POST("/api/monitor/tasks/{id}/retry", { params: { path: { id } } }));
  },
};

/** A random key; crypto.randomUUID exists only on secure origins (not plain http on an IP). */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
