import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import { openEventStream, type StreamStatus } from "../../live/event-stream.ts";
import { sessionStore } from "../../session/session-store.ts";
import type { JobState } from "./monitor.api.ts";

/** Polling period while the monitor's event stream is not open. */
export const POLL_MS = 5_000;
/** Events come in bursts (a bench's thousands of tasks): the views reload at most this often. */
export const EVENT_REFRESH_MS = 1_000;

/** GET /api/monitor/events: its events' data, from the route's description. */
export interface MonitorEventMap {
  "task.updated": { id: string; owner_id: string; status: string };
  "job.updated": {
    id: string;
    queue: string;
    name: string;
    state: JobState;
    attempts: number;
    failed_reason?: string;
  };
}

type Handler = (name: string, data: unknown) => void;

interface MonitorLive {
  status: StreamStatus;
  /**
   * Bumped when the views should read again: after a burst of events, every 5 s while the
   * stream is down (polling), after a reconnection, and on "Refresh".
   */
  tick: number;
  refresh(): void;
  subscribe(handler: Handler): () => void;
}

const MonitorLiveContext = createContext<MonitorLive | undefined>(undefined);

/**
 * The monitor's own event stream (every owner's task updates and the job queue's changes),
 * open while an operator is on the monitor; polling takes over while it is down.
 */
export function MonitorLiveProvider({
  enabled,
  children,
}: {
  enabled: boolean;
  children: ReactNode;
}) {
  const [status, setStatus] = useState<StreamStatus>("closed");
  const [tick, setTick] = useState(0);
  const handlers = useRef(new Set<Handler>());
  const bump = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    if (!enabled) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let wasOpen = false;
    const stream = openEventStream({
      url: "/api/monitor/events",
      token: () => sessionStore.token(),
      onEvent: (name, data) => {
        for (const handler of handlers.current) handler(name, data);
        timer ??= setTimeout(() => {
          timer = undefined;
          bump();
        }, EVENT_REFRESH_MS);
      },
      onStatus: (next) => {
        // Back after a break: what changed meanwhile was not sent.
        if (next === "open" && wasOpen) bump();
        if (next === "open") wasOpen = true;
        setStatus(next);
      },
      onUnauthorized: () => sessionStore.end("expired"),
    });
    return () => {
      stream.close();
      clearTimeout(timer);
      setStatus("closed");
    };
  }, [enabled, bump]);

  useEffect(() => {
    if (!enabled || status === "open") return;
    const timer = setInterval(bump, POLL_MS);
    return () => clearInterval(timer);
  }, [enabled, status, bump]);

  const subscribe = useCallback((handler: Handler) => {
    handlers.current.add(handler);
    return () => {
      handlers.current.delete(handler);
    };
  }, []);

  const value = useMemo(
    () => ({ status, tick, refresh: bump, subscribe }),
    [status, tick, bump, subscribe],
  );
  return <MonitorLiveContext.Provider value={value}>{children}</MonitorLiveContext.Provider>;
}

export function useMonitorLive(): MonitorLive {
  const live = useContext(MonitorLiveContext);
  if (!live) throw new Error("useMonitorLive needs a <MonitorLiveProvider> above it");
  return live;
}

/** Runs `handler` for each `name` event of the monitor's stream (the latest handler). */
export function useMonitorEvent<K extends keyof MonitorEventMap>(
  name: K,
  handler: (data: MonitorEventMap[K]) => void,
) {
  const { subscribe } = useMonitorLive();
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(
    () =>
      subscribe((event, data) => {
        if (event === name) latest.current(data as MonitorEventMap[K]);
      }),
    [subscribe, name],
  );
}

/** Runs `reload` each time the views should read again (not as the view mounts: it loads). */
export function useMonitorRefresh(reload: () => void) {
  const { tick } = useMonitorLive();
  const latest = useRef(reload);
  const mountedAt = useRef(tick);
  useEffect(() => {
    latest.current = reload;
  });
  useEffect(() => {
    if (tick !== mountedAt.current) latest.current();
  }, [tick]);
}
