import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { ErrorState, Loading } from "../components/page-state.tsx";
import { useSessionContext } from "./session-context.tsx";

/** Where the sign-in page sends the user back to. */
export interface SignInRedirect {
  from?: string;
}

/** Renders `children` for a signed-in user; anyone else is sent to sign in (and brought back). */
export function RequireSession({ children }: { children: ReactNode }) {
  const { state, recheck } = useSessionContext();
  const location = useLocation();
  switch (state.status) {
    case "checking":
      return (
        <main id="main" className="page-center">
          <Loading label="Checking your session…" />
        </main>
      );
    case "unavailable":
      return (
        <main id="main" className="page-center">
          <ErrorState title="TaskFlow is unavailable" error={state.problem} onRetry={recheck} />
        </main>
      );
    case "signed-out": {
      const redirect: SignInRedirect = {
        from: `${location.pathname}${location.search}${location.hash}`,
      };
      return <Navigate to="/sign-in" replace state={redirect} />;
    }
    case "signed-in":
      return children;
  }
}
