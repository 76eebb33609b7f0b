import type { ReactNode } from "react";

/** The frame of the sign-in and sign-up pages: one centred card in the main landmark. */
export function AuthLayout({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main id="main" className="auth-main">
      <div className="auth-card">
        <p className="brand brand-large" aria-hidden="true">
          TaskFlow
        </p>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}
