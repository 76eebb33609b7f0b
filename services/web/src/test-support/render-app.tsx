import { render } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { AppProviders, AppRoutes } from "../app.tsx";
import { sessionStore } from "../session/session-store.ts";

/**
 * The whole app at `path`, as after a reload: with `signedIn`, a token is in the session
 * store (pair it with `fakeApi({ signedIn: true })`).
 */
export function renderApp(path: string, options: { signedIn?: boolean } = {}) {
  if (options.signedIn) sessionStore.save("test-token", 900);
  return render(
    <MemoryRouter initialEntries={[path]}>
      <AppProviders>
        <AppRoutes />
      </AppProviders>
    </MemoryRouter>,
  );
}
