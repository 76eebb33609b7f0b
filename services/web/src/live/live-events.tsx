import {
  createContext,
  type ReactNode,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import type { TaskStatus } from "../api/client.ts";
import { useSession } from "../session/session-context.tsx";
import { sessionStore } from "../session/session-store.ts";
import { openEventStream, type StreamStatus } from "./event-stream.ts";

/**
 * The events GET /api/events sends, by name. The stream's body is not described by the
 * OpenAPI document (it is text/event-stream), so the shapes are written here, from the
 * route's description.
 */
export interface LiveEventMap {
  "task.updated": { id: string; status: TaskStatus };
  "notification.created": { id: string; kind: string; title: string };
}

export type LiveEventName = keyof LiveEventMap;

type Handler = (data: unknown) => void;

interface LiveEvents {
  status: StreamStatus;
  subscribe(name: string, handler: Handler): () => void;
  /** Called each time the stream is open again after a break: events may have been missed. */
  onResync(handler: () => void): () => void;
}

const LiveEventsContext = createContext<LiveEvents | undefined>(undefined);

/**
 * One shared connection to /api/events for the whole app while someone is signed in; pages
 * subscribe by event name with {@link useLiveEvent}.
 */
export function LiveEventsProvider({
  children,
  url = "/api/events",
}: {
  children: ReactNode;
  url?: string;
}) {
  const session = useSession();
  const userId = session.status === "signed-in" ? session.user.id : undefined;
  const [status, setStatus] = useState<StreamStatus>("closed");
  const handlers = useRef(new Map<string, Set<Handler>>());
  const resyncs = useRef(new Set<() => void>());

  useEffect(() => {
    if (!userId) {
      setStatus("closed");
      return;
    }
    let wasOpen = false;
    const stream = openEventStream({
      url,
      token: () => sessionStore.token(),
      onEvent: (name, data) => {
        for (const handler of handlers.current.get(name) ?? []) handler(data);
      },
      onStatus: (next) => {
        if (next === "open") {
          if (wasOpen) for (const resync of resyncs.current) resync();
          wasOpen = true;
        }
        setStatus(next);
      },
      onUnauthorized: () => sessionStore.end("expired"),
    });
    return () => stream.close();
  }, [url, userId]);

  // Stable across status changes: subscribers do not resubscribe when the stream reconnects.
  const registry = useMemo(
    () => ({
      subscribe(name: string, handler: Handler) {
        let set = handlers.current.get(name);
        if (!set) {
          set = new Set();
          handlers.current.set(name, set);
        }
        set.add(handler);
        return () => {
          set.delete(handler);
        };
      },
      onResync(handler: () => void) {
        resyncs.current.add(handler);
        return () => {
          resyncs.current.delete(handler);
        };
      },
    }),
    [],
  );
  const value = useMemo<LiveEvents>(() => ({ ...registry, status }), [registry, status]);

  return <LiveEventsContext.Provider value={value}>{children}</LiveEventsContext.Provider>;
}

function useLiveEvents(): LiveEvents {
  const live = useContext(LiveEventsContext);
  if (!live) throw new Error("useLiveEvent needs a <LiveEventsProvider> above it");
  return live;
}

/**
 * Runs `handler` for every `name` event on the shared stream while the component is mounted.
 * The latest handler is called: it need not be memoised.
 */
export function useLiveEvent<K extends LiveEventName>(
  name: K,
  handler: (data: LiveEventMap[K]) => void,
): void;
export function useLiveEvent(name: string, handler: (data: unknown) => void): void;
export function useLiveEvent(name: string, handler: (data: unknown) => void): void {
  const { subscribe } = useLiveEvents();
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => subscribe(name, (data) => latest.current(data)), [subscribe, name]);
}

/** Runs `handler` when the stream comes back after a break (reload what may have changed). */
export function useLiveResync(handler: () => void): void {
  const { onResync } = useLiveEvents();
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => onResync(() => latest.current()), [onResync]);
}

/** The shared stream's state, for an indicator. */
export function useLiveStatus(): StreamStatus {
  return useLiveEvents().status;
}
