import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { ErrorState } from "./page-state.tsx";

/** A keyset page as the API returns them (orders, notifications, jobs). */
export interface CursorPage<T> {
  items: T[];
  next_cursor: string | null;
}

export interface CursorListState<T> {
  phase: "loading" | "ready" | "error";
  items: T[];
  nextCursor: string | null;
  error?: unknown;
  loadingMore: boolean;
  moreError?: unknown;
}

/**
 * How to read the first page again: `reset` shows the loading state and replaces everything;
 * `quiet` replaces the list when the answer comes (and keeps it on an error); `merge` puts
 * the newest first and keeps the pages already loaded below them.
 */
export type ReloadMode = "reset" | "quiet" | "merge";

function initial<T>(): CursorListState<T> {
  return { phase: "loading", items: [], nextCursor: null, loadingMore: false };
}

function withoutDuplicates<T extends { id: string }>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(item.id) && Boolean(seen.add(item.id)));
}

/**
 * A newest-first list read page by page ("Load more"). It loads the first page again when
 * `key` (the filters) changes; answers to requests made for an older key are dropped.
 * `onPage` sees every page (an unread count comes with them).
 */
export function useCursorList<T extends { id: string }, P extends CursorPage<T> = CursorPage<T>>(
  fetchPage: (cursor: string | undefined) => Promise<P>,
  key: string,
  onPage?: (page: P) => void,
) {
  const [state, setState] = useState<CursorListState<T>>(initial);
  const latest = useRef({ fetchPage, onPage });
  useLayoutEffect(() => {
    latest.current = { fetchPage, onPage };
  });
  // Bumped when the list starts over (a new key): older answers are dropped.
  const epoch = useRef(0);
  // Bumped by each first-page read: only the last one counts.
  const reads = useRef(0);

  const reload = useCallback(async (mode: ReloadMode = "reset") => {
    if (mode === "reset") {
      epoch.current += 1;
      setState(initial<T>());
    }
    const mine = { epoch: epoch.current, read: ++reads.current };
    const current = () => mine.epoch === epoch.current && mine.read === reads.current;
    try {
      const page = await latest.current.fetchPage(undefined);
      if (!current()) return;
      latest.current.onPage?.(page);
      setState((s) => {
        if (mode === "merge" && s.phase === "ready" && s.items.length > 0) {
          return { ...s, items: withoutDuplicates([...page.items, ...s.items]) };
        }
        return {
          phase: "ready",
          items: page.items,
          nextCursor: page.next_cursor,
          loadingMore: false,
        };
      });
    } catch (error) {
      if (!current()) return;
      setState((s) =>
        mode !== "reset" && s.phase === "ready" ? s : { ...initial<T>(), phase: "error", error },
      );
    }
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: key is the trigger.
  useEffect(() => {
    void reload("reset");
  }, [key, reload]);

  const loadMore = useCallback(async () => {
    const cursor = state.nextCursor;
    if (!cursor || state.loadingMore) return;
    const mine = epoch.current;
    setState((s) => ({ ...s, loadingMore: true, moreError: undefined }));
    try {
      const page = await latest.current.fetchPage(cursor);
      if (mine !== epoch.current) return;
      latest.current.onPage?.(page);
      setState((s) => ({
        ...s,
        items: withoutDuplicates([...s.items, ...page.items]),
        nextCursor: page.next_cursor,
        loadingMore: false,
      }));
    } catch (error) {
      if (mine !== epoch.current) return;
      setState((s) => ({ ...s, loadingMore: false, moreError: error }));
    }
  }, [state.nextCursor, state.loadingMore]);

  /** Changes the loaded items in place (an action's outcome, a live event). */
  const update = useCallback((change: (items: T[]) => T[]) => {
    setState((s) => ({ ...s, items: change(s.items) }));
  }, []);

  return { ...state, reload, loadMore, update };
}

/** Below a paged list: its "Load more" button (or "All N shown.") and a failed page's error. */
export function ListFooter({
  list,
  noun,
}: {
  list: Pick<CursorListState<unknown>, "items" | "nextCursor" | "loadingMore" | "moreError"> & {
    loadMore: () => Promise<void>;
  };
  /** "orders": for "More orders unavailable". */
  noun: string;
}) {
  return (
    <>
      {list.moreError !== undefined && (
        <ErrorState title={`More ${noun} unavailable`} error={list.moreError} />
      )}
      {list.nextCursor ? (
        <button
          type="button"
          className="button load-more"
          onClick={() => void list.loadMore()}
          disabled={list.loadingMore}
          aria-busy={list.loadingMore}
        >
          {list.loadingMore ? "Loading…" : "Load more"}
        </button>
      ) : (
        <p className="list-end">All {list.items.length} shown.</p>
      )}
    </>
  );
}
