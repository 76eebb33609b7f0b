import type { ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";
import { AppLayout } from "./layout/app-layout.tsx";
import { LiveEventsProvider } from "./live/live-events.tsx";
import AnalyticsPage from "./pages/analytics/analytics.page.tsx";
import SignInPage from "./pages/auth/sign-in.page.tsx";
import SignUpPage from "./pages/auth/sign-up.page.tsx";
import MailPage from "./pages/mail/mail.page.tsx";
import MonitorPage from "./pages/monitor/monitor.page.tsx";
import NotFoundPage from "./pages/not-found.page.tsx";
import NotificationsPage from "./pages/notifications/notifications.page.tsx";
import OrdersPage from "./pages/orders/orders.page.tsx";
import TaskDetailPage from "./pages/tasks/task-detail.page.tsx";
import TasksPage from "./pages/tasks/tasks.page.tsx";
import { RequireSession } from "./session/require-session.tsx";
import { SessionProvider } from "./session/session-context.tsx";

/**
 * The routes. Pages with views of their own (orders/:id, monitor tabs) declare them in a
 * nested <Routes>: their route here ends in `/*`.
 */
export function AppRoutes() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignInPage />} />
      <Route path="/sign-up" element={<SignUpPage />} />
      <Route
        element={
          <RequireSession>
            <AppLayout />
          </RequireSession>
        }
      >
        <Route index element={<Navigate to="/tasks" replace />} />
        <Route path="tasks" element={<TasksPage />} />
        <Route path="tasks/:id" element={<TaskDetailPage />} />
        <Route path="orders/*" element={<OrdersPage />} />
        <Route path="notifications" element={<NotificationsPage />} />
        <Route path="analytics" element={<AnalyticsPage />} />
        <Route path="monitor/*" element={<MonitorPage />} />
        <Route path="mail" element={<MailPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

/** The session and the live stream around the routes (tests wrap AppRoutes in a MemoryRouter). */
export function AppProviders({ children }: { children: ReactNode }) {
  return (
    <SessionProvider>
      <LiveEventsProvider>{children}</LiveEventsProvider>
    </SessionProvider>
  );
}

export function App() {
  return (
    <BrowserRouter>
      <AppProviders>
        <AppRoutes />
      </AppProviders>
    </BrowserRouter>
  );
}
