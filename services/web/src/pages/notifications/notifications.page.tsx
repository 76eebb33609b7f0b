import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { describeProblem } from "../../api/client.ts";
import { ActionMessage, type ActionOutcome } from "../../components/action-message.tsx";
import { ListFooter, useCursorList } from "../../components/cursor-list.tsx";
import { DateTime } from "../../components/date-time.tsx";
import { EmptyState, ErrorState, Loading } from "../../components/page-state.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";
import { useLiveEvent, useLiveResync } from "../../live/live-events.tsx";
import {
  type Notification,
  type NotificationPage,
  notificationsApi,
  orderIdOf,
} from "./notifications.api.ts";
import { useUnreadCount } from "./unread-count.tsx";

const PAGE_SIZE = 20;
/** Notifications come in bursts (an order per line of a bench): read the newest at most this often. */
const MERGE_DELAY_MS = 300;

/** /notifications (?unread=1: the unread ones): newest first, paged, live; mark one read. */
export default function NotificationsPage() {
  useDocumentTitle("Notifications");
  const [params, setParams] = useSearchParams();
  const unreadOnly = params.get("unread") === "1";
  const unread = useUnreadCount();
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [message, setMessage] = useState<ActionOutcome>();
  const [focusId, setFocusId] = useState<string>();
  const mergeTimer = useRef<ReturnType<typeof setTimeout>>(undefined);

  const list = useCursorList<Notification, NotificationPage>(
    (cursor) =>
      notificationsApi.list({ ...(unreadOnly ? { unread: true } : {}), cursor, limit: PAGE_SIZE }),
    unreadOnly ? "unread" : "all",
    (page) => unread.set(page.unread_count),
  );

  useEffect(() => () => clearTimeout(mergeTimer.current), []);

  useLiveEvent("notification.created", () => {
    if (mergeTimer.current !== undefined) return;
    mergeTimer.current = setTimeout(() => {
      mergeTimer.current = undefined;
      void list.reload("merge");
    }, MERGE_DELAY_MS);
  });
  useLiveResync(() => void list.reload("quiet"));

  // The "Mark read" button that was used is gone: focus goes to its notification.
  useEffect(() => {
    if (focusId) document.getElementById(`notification-${focusId}`)?.focus();
  }, [focusId]);

  const markRead = async (notification: Notification) => {
    setBusy((b) => new Set(b).add(notification.id));
    setMessage(undefined);
    try {
      const updated = await notificationsApi.markRead(notification.id);
      if (!notification.read) unread.decrement();
      list.update((items) => items.map((n) => (n.id === updated.id ? updated : n)));
      setMessage({ kind: "success", text: `“${notification.title}” marked read.` });
      setFocusId(notification.id);
    } catch (error) {
      setMessage({
        kind: "error",
        text: `“${notification.title}” was not marked read: ${describeProblem(error)}`,
      });
    } finally {
      setBusy((b) => {
        const next = new Set(b);
        next.delete(notification.id);
        return next;
      });
    }
  };

  return (
    <>
      <h1>Notifications</h1>
      <section className="card" aria-labelledby="notification-list-heading">
        <div className="title-row">
          <h2 id="notification-list-heading">
            {unreadOnly ? "Unread notifications" : "All notifications"}
          </h2>
          {unread.count !== undefined && <span className="muted">{unread.count} unread</span>}
        </div>
        <div className="toolbar">
          <label className="inline-field checkbox-field">
            <input
              type="checkbox"
              checked={unreadOnly}
              onChange={(e) =>
                setParams(e.target.checked ? { unread: "1" } : {}, { replace: true })
              }
            />
            Unread only
          </label>
        </div>
        <ActionMessage message={message} />

        {list.phase === "loading" && <Loading label="Loading notifications…" />}
        {list.phase === "error" && (
          <ErrorState
            title="Notifications unavailable"
            error={list.error}
            onRetry={() => void list.reload("reset")}
          />
        )}
        {list.phase === "ready" && list.items.length === 0 && (
          <EmptyState title={unreadOnly ? "No unread notifications." : "No notifications yet."}>
            {unreadOnly ? (
              <button
                type="button"
                className="button"
                onClick={() => setParams({}, { replace: true })}
              >
                Show all notifications
              </button>
            ) : (
              <p>You are told here when an order is confirmed.</p>
            )}
          </EmptyState>
        )}
        {list.phase === "ready" && list.items.length > 0 && (
          <>
            <ul className="notification-list" aria-label="Notifications, newest first">
              {list.items.map((n) => {
                const orderId = orderIdOf(n);
                return (
                  <li
                    key={n.id}
                    className={n.read ? "notification" : "notification notification-unread"}
                    data-notification-id={n.id}
                  >
                    <div className="notification-text">
                      <p className="notification-title" id={`notification-${n.id}`} tabIndex={-1}>
                        {!n.read && <span className="badge badge-unread">Unread</span>} {n.title}
                      </p>
                      {n.body && <p className="notification-body">{n.body}</p>}
                      <p className="task-meta">
                        <DateTime value={n.created_at} />
                        {orderId && (
                          <>
                            {" · "}
                            <Link to={`/orders/${orderId}`}>View order</Link>
                          </>
                        )}
                      </p>
                    </div>
                    {!n.read && (
                      <button
                        type="button"
                        className="button button-small"
                        disabled={busy.has(n.id)}
                        onClick={() => void markRead(n)}
                        aria-label={`Mark read: ${n.title}`}
                      >
                        Mark read
                      </button>
                    )}
                  </li>
                );
              })}
            </ul>
            <ListFooter list={list} noun="notifications" />
          </>
        )}
      </section>
    </>
  );
}
