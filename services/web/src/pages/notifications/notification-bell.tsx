import { NavLink } from "react-router";
import { useUnreadCount } from "./unread-count.tsx";

/**
 * The header's link to the notifications, with the unread count (live). Its name says the
 * count ("Notifications, 3 unread"); a new notification is announced politely.
 */
export default function NotificationBell() {
  const { count, latest } = useUnreadCount();
  const label = count ? `Notifications, ${count} unread` : "Notifications";
  return (
    <>
      <NavLink to="/notifications" className="bell" aria-label={label} title={label}>
        <svg className="bell-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
          <path
            fill="none"
            stroke="currentColor"
            strokeWidth="2"
            strokeLinecap="round"
            strokeLinejoin="round"
            d="M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10.3 21a1.94 1.94 0 0 0 3.4 0"
          />
        </svg>
        {count ? (
          <span className="bell-count" aria-hidden="true" data-testid="unread-count">
            {count > 99 ? "99+" : count}
          </span>
        ) : null}
      </NavLink>
      <span className="visually-hidden" role="status">
        {latest}
      </span>
    </>
  );
}
