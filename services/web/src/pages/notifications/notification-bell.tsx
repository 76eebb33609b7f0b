import { NavLink } from "react-router";

/** Placeholder: the header's notifications bell (the unread count comes with the page). */
export default function NotificationBell() {
  return (
    <NavLink to="/notifications" className="bell" aria-label="Notifications">
      <span aria-hidden="true">🔔</span>
    </NavLink>
  );
}
