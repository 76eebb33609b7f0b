/** A page of rows read newest first by id, and the cursor to the next one (null at the end). */
export interface Page<T, Id = string> {
  items: T[];
  nextCursor: Id | null;
}

/**
 * Keyset pagination's last step: `rows` were read with `limit + 1` (ids ordered, newest
 * first, `id < cursor`), so one row more than the page says there is a next page, which
 * starts after the page's last id.
 */
export function pageOf<T extends { id: string | number }>(
  rows: T[],
  limit: number,
): Page<T, T["id"]> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
}
