import { type RawBuilder, type SqlBool, sql } from "kysely";

/** A request to store a row that may carry an Idempotency-Key (tasks, orders). */
export interface IdempotentInput {
  ownerId: string;
  idempotencyKey?: string | undefined;
  /** Fingerprint of the request body, to refuse a reused key with a different body. */
  requestHash?: string | undefined;
}

/** A row stored under such a key: unique by (owner_id, idempotency_key). */
export interface IdempotentRow {
  owner_id: string;
  idempotency_key: string | null;
  request_hash: string | null;
}

/** A WHERE condition: the rows stored under one of the inputs' (owner, key) pairs. */
export function storedUnderKeys(inputs: readonly IdempotentInput[]): RawBuilder<SqlBool> {
  const pairs = inputs.map((i) => sql`(${i.ownerId}::uuid, ${i.idempotencyKey ?? null}::text)`);
  return sql<SqlBool>`(owner_id, idempotency_key) IN (${sql.join(pairs)})`;
}

/**
 * The answer to an input whose insert its key skipped (ON CONFLICT DO NOTHING): the row stored
 * first under that key (`stored`: read with storedUnderKeys), replayed when the request was
 * the same, refused as `key_reused` when its body differed.
 */
export function replayOf<Row extends IdempotentRow>(
  input: IdempotentInput,
  stored: readonly Row[],
): { kind: "replayed" | "key_reused"; row: Row } {
  const first = stored.find(
    (row) => row.owner_id === input.ownerId && row.idempotency_key === input.idempotencyKey,
  );
  if (!first) throw new Error("idempotency conflict without a stored row");
  const sameBody = first.request_hash === (input.requestHash ?? null);
  return { kind: sameBody ? "replayed" : "key_reused", row: first };
}
