import { type FormEvent, useState } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router";
import { ApiProblem, describeProblem } from "../../api/client.ts";
import { FormErrors, FormField } from "../../components/form-field.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";
import type { SignInRedirect } from "../../session/require-session.tsx";
import { useSessionContext } from "../../session/session-context.tsx";
import { AuthLayout } from "./auth-layout.tsx";
import { useFormProblems } from "./use-form-problems.ts";

type Field = "email" | "password";

/** Where to go after signing in: back where the user was sent from, else the tasks. */
export function returnPath(state: unknown): string {
  const from = (state as SignInRedirect | null)?.from;
  return from?.startsWith("/") && !from.startsWith("//") && !from.startsWith("/sign-")
    ? from
    : "/tasks";
}

export default function SignInPage() {
  useDocumentTitle("Sign in");
  const { state, signIn } = useSessionContext();
  const location = useLocation();
  const navigate = useNavigate();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const problems = useFormProblems<Field>();
  const target = returnPath(location.state);

  if (state.status === "signed-in" && !busy) return <Navigate to={target} replace />;

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const fields: Partial<Record<Field, string>> = {};
    if (!email.trim()) fields.email = "Enter your email address.";
    if (!password) fields.password = "Enter your password.";
    if (Object.keys(fields).length > 0) return problems.report({ fields });
    setBusy(true);
    try {
      await signIn({ email: email.trim(), password });
      navigate(target, { replace: true });
    } catch (error) {
      setBusy(false);
      if (error instanceof ApiProblem && error.status === 401) {
        problems.report({ summary: ["Wrong email or password."] });
      } else if (error instanceof ApiProblem && error.status === 429) {
        problems.report({
          summary: [
            `Too many sign-in attempts. Wait ${error.retryAfterSeconds ?? 60} seconds and try again.`,
          ],
        });
      } else {
        problems.report({ summary: [describeProblem(error)] });
      }
    }
  };

  const notice = state.status === "signed-out" ? state.notice : undefined;
  return (
    <AuthLayout title="Sign in">
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <form ref={problems.formRef} onSubmit={onSubmit} noValidate aria-busy={busy}>
        <FormErrors messages={problems.summary} summaryRef={problems.summaryRef} />
        <FormField label="Email" error={problems.fields.email}>
          <input
            type="email"
            name="email"
            autoComplete="username"
            inputMode="email"
            required
            value={email}
            onChange={(e) => {
              setEmail(e.target.value);
              problems.clearField("email");
            }}
          />
        </FormField>
        <FormField label="Password" error={problems.fields.password}>
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => {
              setPassword(e.target.value);
              problems.clearField("password");
            }}
          />
        </FormField>
        <button type="submit" className="button button-primary button-wide" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p className="auth-switch">
        New to TaskFlow?{" "}
        <Link to="/sign-up" state={location.state}>
          Create an account
        </Link>
      </p>
    </AuthLayout>
  );
}
