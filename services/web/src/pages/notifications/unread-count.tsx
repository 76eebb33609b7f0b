import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
} from "react";
import { useLiveEvent, useLiveResync } from "../../live/live-events.tsx";
import { useSession } from "../../session/session-context.tsx";
import { notificationsApi } from "./notifications.api.ts";

interface UnreadCount {
  /** Undefined until known (or when it could not be read). */
  count: number | undefined;
  /** The last notification that arrived live, for an announcement. */
  latest: string | undefined;
  /** The count as an answer gave it (every notifications page carries it). */
  set(count: number): void;
  /** One was marked read here. */
  decrement(): void;
}

const UnreadCountContext = createContext<UnreadCount | undefined>(undefined);

/**
 * The signed-in user's unread notifications, for the header's bell and the notifications
 * page: read once, then +1 on each live `notification.created`, read again after the stream
 * was away (events were missed), and set from every page of notifications the app loads.
 */
export function UnreadCountProvider({ children }: { children: ReactNode }) {
  const session = useSession();
  const userId = session.status === "signed-in" ? session.user.id : undefined;
  const [count, setCount] = useState<number>();
  const [latest, setLatest] = useState<string>();

  const load = useCallback(async () => {
    try {
      setCount((await notificationsApi.list({ limit: 1 })).unread_count);
    } catch {
      // The bell shows no number; the next event or reconnection tries again.
    }
  }, []);

  useEffect(() => {
    setCount(undefined);
    if (userId) void load();
  }, [userId, load]);

  useLiveEvent("notification.created", (notification) => {
    setCount((c) => (c ?? 0) + 1);
    setLatest(`New notification: ${notification.title}`);
  });
  useLiveResync(() => void load());

  const set = useCallback((n: number) => setCount(n), []);
  const decrement = useCallback(
    () => setCount((c) => (c === undefined ? c : Math.max(0, c - 1))),
    [],
  );
  const value = useMemo(() => ({ count, latest, set, decrement }), [count, latest, set, decrement]);
  return <UnreadCountContext.Provider value={value}>{children}</UnreadCountContext.Provider>;
}

export function useUnreadCount(): UnreadCount {
  const value = useContext(UnreadCountContext);
  if (!value) throw new Error("useUnreadCount needs an <UnreadCountProvider> above it");
  return value;
}
