import { type FormEvent, useState } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router";
import { ApiProblem, describeProblem } from "../../api/client.ts";
import { FormErrors, FormField } from "../../components/form-field.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";
import { useSessionContext } from "../../session/session-context.tsx";
import { AuthLayout } from "./auth-layout.tsx";
import { returnPath } from "./sign-in.page.tsx";
import { useFormProblems } from "./use-form-problems.ts";

type Field = "name" | "email" | "password";
const FIELDS: readonly Field[] = ["name", "email", "password"];

/** The API's rules for an account (RegisterBody), checked before sending. */
function check(account: Record<Field, string>): Partial<Record<Field, string>> {
  const fields: Partial<Record<Field, string>> = {};
  if (!account.name.trim()) fields.name = "Enter your name.";
  if (!account.email.trim()) fields.email = "Enter your email address.";
  else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(account.email.trim()))
    fields.email = "Enter an email address like ada@example.com.";
  if (account.password.length < 8) fields.password = "Use at least 8 characters.";
  return fields;
}

export default function SignUpPage() {
  useDocumentTitle("Create an account");
  const { state, signUp } = useSessionContext();
  const location = useLocation();
  const navigate = useNavigate();
  const [account, setAccount] = useState<Record<Field, string>>({
    name: "",
    email: "",
    password: "",
  });
  const [busy, setBusy] = useState(false);
  const problems = useFormProblems<Field>();
  const target = returnPath(location.state);

  if (state.status === "signed-in" && !busy) return <Navigate to={target} replace />;

  const set = (field: Field) => (event: { target: { value: string } }) => {
    setAccount((a) => ({ ...a, [field]: event.target.value }));
    problems.clearField(field);
  };

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const fields = check(account);
    if (Object.keys(fields).length > 0) return problems.report({ fields });
    setBusy(true);
    try {
      await signUp({
        name: account.name.trim(),
        email: account.email.trim(),
        password: account.password,
      });
      navigate(target, { replace: true });
    } catch (error) {
      setBusy(false);
      if (!(error instanceof ApiProblem))
        return problems.report({ summary: [describeProblem(error)] });
      if (error.status === 409) {
        return problems.report({
          fields: { email: "An account with this email already exists. Sign in instead?" },
        });
      }
      if (error.status === 422) {
        const fields: Partial<Record<Field, string>> = {};
        for (const field of FIELDS) {
          const message = error.fieldError(`/${field}`);
          if (message) fields[field] = message;
        }
        const others = error.otherErrors(FIELDS.map((f) => `/${f}`));
        return problems.report({
          fields,
          summary:
            others.length > 0 || Object.keys(fields).length === 0
              ? [describeProblem(error), ...others.map((e) => `${e.path}: ${e.message}`)]
              : [],
        });
      }
      problems.report({ summary: [describeProblem(error)] });
    }
  };

  return (
    <AuthLayout title="Create an account">
      <form ref={problems.formRef} onSubmit={onSubmit} noValidate aria-busy={busy}>
        <FormErrors messages={problems.summary} summaryRef={problems.summaryRef} />
        <FormField label="Name" error={problems.fields.name}>
          <input
            name="name"
            autoComplete="name"
            required
            maxLength={200}
            value={account.name}
            onChange={set("name")}
          />
        </FormField>
        <FormField label="Email" error={problems.fields.email}>
          <input
            type="email"
            name="email"
            autoComplete="email"
            inputMode="email"
            required
            maxLength={254}
            value={account.email}
            onChange={set("email")}
          />
        </FormField>
        <FormField label="Password" hint="At least 8 characters." error={problems.fields.password}>
          <input
            type="password"
            name="password"
            autoComplete="new-password"
            required
            minLength={8}
            maxLength={256}
            value={account.password}
            onChange={set("password")}
          />
        </FormField>
        <button type="submit" className="button button-primary button-wide" disabled={busy}>
          {busy ? "Creating your account…" : "Create account"}
        </button>
      </form>
      <p className="auth-switch">
        Already have an account?{" "}
        <Link to="/sign-in" state={location.state}>
          Sign in
        </Link>
      </p>
    </AuthLayout>
  );
}
