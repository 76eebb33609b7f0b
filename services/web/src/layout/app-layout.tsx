import { useEffect, useRef } from "react";
import { NavLink, Outlet, useLocation } from "react-router";
import { useLiveStatus } from "../live/live-events.tsx";
import NotificationBell from "../pages/notifications/notification-bell.tsx";
import { UnreadCountProvider } from "../pages/notifications/unread-count.tsx";
import { useSessionContext } from "../session/session-context.tsx";

const LIVE_LABELS = {
  open: "Live",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  closed: "Offline",
} as const;

/**
 * The frame of every signed-in page: skip link, header with navigation and the notifications
 * bell (its unread count is shared with the notifications page), the main landmark.
 */
export function AppLayout() {
  const { state, signOut } = useSessionContext();
  const live = useLiveStatus();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  const firstRender = useRef(true);

  // After a navigation, focus goes to the new page (not left on the link that was activated),
  // so screen readers start reading there.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each new path.
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    main.current?.focus();
  }, [location.pathname]);

  const user = state.status === "signed-in" ? state.user : undefined;
  const operator = state.status === "signed-in" && state.operator === true;
  const links = [
    { to: "/tasks", label: "Tasks" },
    { to: "/orders", label: "Orders" },
    ...(operator
      ? [
          { to: "/analytics", label: "Analytics" },
          { to: "/monitor", label: "Monitor" },
        ]
      : []),
    { to: "/mail", label: "Mail" },
  ];

  return (
    <UnreadCountProvider>
      <a className="skip-link" href="#main">
        Skip to main content
      </a>
      <header className="app-header">
        <div className="app-header-inner">
          <NavLink to="/tasks" className="brand">
            TaskFlow
          </NavLink>
          <nav aria-label="Main" className="main-nav">
            <ul>
              {links.map((link) => (
                <li key={link.to}>
                  <NavLink to={link.to}>{link.label}</NavLink>
                </li>
              ))}
            </ul>
          </nav>
          <div className="header-tools">
            <span className={`live live-${live}`} title="Live updates">
              <span className="live-dot" aria-hidden="true" />
              <span className="live-label">{LIVE_LABELS[live]}</span>
            </span>
            <NotificationBell />
            {user && (
              <span className="user-name" title={user.email}>
                {user.name}
              </span>
            )}
            <button type="button" className="button button-quiet" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1} className="app-main">
        <Outlet />
      </main>
    </UnreadCountProvider>
  );
}
