import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
} from "react";
import { ApiProblem, api, type CurrentUser, unwrap } from "../api/client.ts";
import { sessionStore } from "./session-store.ts";

export type SessionState =
  | { status: "checking" }
  /** `notice` says why (the session expired), for the sign-in page. */
  | { status: "signed-out"; notice?: string }
  | { status: "unavailable"; problem: ApiProblem }
  /** `operator`: may use the monitor and analytics (GET /api/auth/me says). */
  | { status: "signed-in"; user: CurrentUser; operator: boolean };

export interface Session {
  state: SessionState;
  signIn(credentials: { email: string; password: string }): Promise<void>;
  signUp(account: { name: string; email: string; password: string }): Promise<void>;
  signOut(): Promise<void>;
  /** Asks the API again who is signed in (after "unavailable"). */
  recheck(): void;
}

const SessionContext = createContext<Session | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>(() =>
    sessionStore.token() ? { status: "checking" } : { status: "signed-out" },
  );
  const [checks, setChecks] = useState(0);

  const load = useCallback(async () => {
    // Operators are the emails in TASKFLOW_ADMIN_EMAILS; /api/auth/me says whether this is one.
    const user = await unwrap(api.GET("/api/auth/me"));
    setState({ status: "signed-in", user, operator: user.operator });
  }, []);

  useEffect(
    () =>
      sessionStore.onEnd((reason) =>
        setState(
          reason === "expired"
            ? { status: "signed-out", notice: "Your session has expired. Sign in again." }
            : { status: "signed-out" },
        ),
      ),
    [],
  );

  // On start (a token kept from before a reload) and on recheck.
  // biome-ignore lint/correctness/useExhaustiveDependencies: checks is the trigger.
  useEffect(() => {
    if (!sessionStore.token()) return;
    setState({ status: "checking" });
    load().catch((error: unknown) => {
      // A 401 already ended the session (the client's middleware).
      if (error instanceof ApiProblem && error.status === 401) return;
      setState({
        status: "unavailable",
        problem: error instanceof ApiProblem ? error : ApiProblem.unreachable(error),
      });
    });
  }, [load, checks]);

  const signIn = useCallback(
    async (credentials: { email: string; password: string }) => {
      const token = await unwrap(api.POST("/api/auth/login", { body: credentials }));
      sessionStore.save(token.access_token, token.expires_in);
      try {
        await load();
      } catch (error) {
        sessionStore.end("signed-out");
        throw error;
      }
    },
    [load],
  );

  const signUp = useCallback(
    async (account: { name: string; email: string; password: string }) => {
      await unwrap(api.POST("/api/auth/register", { body: account }));
      await signIn({ email: account.email, password: account.password });
    },
    [signIn],
  );

  const signOut = useCallback(async () => {
    // Clears the HttpOnly session cookie too; the token is forgotten whatever happens.
    await api.POST("/api/auth/logout").catch(() => undefined);
    sessionStore.end("signed-out");
    setState({ status: "signed-out" });
  }, []);

  const recheck = useCallback(() => setChecks((n) => n + 1), []);

  const value = useMemo<Session>(
    () => ({ state, signIn, signUp, signOut, recheck }),
    [state, signIn, signUp, signOut, recheck],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSessionContext(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession needs a <SessionProvider> above it");
  return session;
}

/** The session's state (who is signed in). */
export function useSession(): SessionState {
  return useSessionContext().state;
}
