import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
} from "react";
import { isForbidden } from "../../components/operators-only.tsx";
import { useMonitorRefresh } from "./monitor-live.tsx";

/** Told when the API answers 403: the page then says the monitor is for operators. */
export const ForbiddenContext = createContext<() => void>(() => {});

export function useReportForbidden() {
  return useContext(ForbiddenContext);
}

export type DataState<T> =
  | { phase: "loading" }
  | { phase: "ready"; data: T; refreshError?: unknown }
  | { phase: "error"; error: unknown };

/**
 * One monitor read (queues, workers, dead letters): loaded as the view mounts, read again
 * quietly whenever the monitor refreshes (live events, polling, "Refresh"); figures already
 * shown stay when a refresh fails. A 403 is reported to the page.
 */
export function useMonitorData<T>(fetch: () => Promise<T>) {
  const [state, setState] = useState<DataState<T>>({ phase: "loading" });
  const reportForbidden = useReportForbidden();
  const latest = useRef(fetch);
  useLayoutEffect(() => {
    latest.current = fetch;
  });
  const reads = useRef(0);

  const reload = useCallback(
    async (quiet = true) => {
      const mine = ++reads.current;
      if (!quiet) setState({ phase: "loading" });
      try {
        const data = await latest.current();
        if (mine === reads.current) setState({ phase: "ready", data });
      } catch (error) {
        if (mine !== reads.current) return;
        if (isForbidden(error)) reportForbidden();
        setState((s) =>
          quiet && s.phase === "ready" ? { ...s, refreshError: error } : { phase: "error", error },
        );
      }
    },
    [reportForbidden],
  );

  useEffect(() => {
    void reload(false);
  }, [reload]);
  useMonitorRefresh(() => void reload(true));

  return { state, reload, setState };
}
