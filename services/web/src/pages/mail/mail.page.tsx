import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { ApiProblem, api, describeProblem, unwrap } from "../../api/client.ts";
import type { paths } from "../../api/schema.gen.ts";
import { DateTime } from "../../components/date-time.tsx";
import { EmptyState, ErrorState, Loading } from "../../components/page-state.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";

export type SinkMail =
  paths["/api/dev/mail"]["get"]["responses"][200]["content"]["application/json"]["items"][number];

/** The newest this many are listed (the API's most). */
const LIMIT = 50;
/** The inbox is read again this often while the page is shown. */
export const MAIL_REFRESH_MS = 10_000;

/**
 * What an email's HTML is shown with: no scripts (the iframe's sandbox), and nothing fetched
 * from elsewhere (no tracking pixels, no remote fonts or styles): inline styles and data: images only.
 */
const CSP =
  "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; font-src data:; form-action 'none'";

export function mailDocument(html: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}"><base target="_blank"></head><body>${html}</body></html>`;
}

type State =
  | { phase: "loading" }
  | { phase: "ready"; items: SinkMail[]; refreshError?: unknown }
  | { phase: "unavailable" }
  | { phase: "error"; error: unknown };

const isMissing = (error: unknown) => error instanceof ApiProblem && error.status === 404;

/**
 * /mail (?id=…: one email open): what the embedded mail sink caught, newest first. Outside
 * production only: the API answers 404 there, and the page says the sink is not available.
 */
export default function MailPage() {
  useDocumentTitle("Mail");
  const [state, setState] = useState<State>({ phase: "loading" });
  const [params] = useSearchParams();
  const openId = params.get("id");
  const reads = useRef(0);

  const load = useCallback(async (quiet: boolean) => {
    const mine = ++reads.current;
    if (!quiet) setState({ phase: "loading" });
    try {
      const { items } = await unwrap(
        api.GET("/api/dev/mail", { params: { query: { limit: LIMIT } } }),
      );
      if (mine === reads.current) setState({ phase: "ready", items });
    } catch (error) {
      if (mine !== reads.current) return;
      if (isMissing(error)) return setState({ phase: "unavailable" });
      setState((s) =>
        quiet && s.phase === "ready" ? { ...s, refreshError: error } : { phase: "error", error },
      );
    }
  }, []);

  useEffect(() => {
    void load(false);
  }, [load]);

  const available = state.phase !== "unavailable";
  useEffect(() => {
    if (!available) return;
    const timer = setInterval(() => {
      if (document.visibilityState !== "hidden") void load(true);
    }, MAIL_REFRESH_MS);
    return () => clearInterval(timer);
  }, [available, load]);

  if (state.phase === "unavailable") {
    return (
      <>
        <h1>Mail</h1>
        <EmptyState title="The mail sink is not available here.">
          <p>
            This API runs in production: its emails go to a real mail server, and there is no inbox
            to show.
          </p>
        </EmptyState>
      </>
    );
  }

  const open =
    state.phase === "ready" && openId ? state.items.find((m) => m.id === openId) : undefined;

  return (
    <>
      <h1>Mail</h1>
      <p className="muted">
        Emails caught by the development mail sink, newest first (the latest {LIMIT}). Nothing here
        left this machine.
      </p>
      <div className="toolbar">
        <button type="button" className="button" onClick={() => void load(true)}>
          Refresh
        </button>
      </div>
      {state.phase === "loading" && <Loading label="Loading the inbox…" />}
      {state.phase === "error" && (
        <ErrorState
          title="The inbox is unavailable"
          error={state.error}
          onRetry={() => void load(false)}
        />
      )}
      {state.phase === "ready" && (
        <>
          {state.refreshError !== undefined && (
            <p className="action-message error" role="alert">
              Could not refresh: {describeProblem(state.refreshError)}
            </p>
          )}
          <div className={openId ? "mail-layout mail-layout-open" : "mail-layout"}>
            <section className="card mail-inbox" aria-labelledby="mail-inbox">
              <h2 id="mail-inbox">Inbox</h2>
              {state.items.length === 0 ? (
                <EmptyState title="No emails yet.">
                  <p>Sign up a new account or place an order: its email shows up here.</p>
                </EmptyState>
              ) : (
                <ul className="mail-list">
                  {state.items.map((mail) => (
                    <li key={mail.id}>
                      <Link
                        to={`?id=${encodeURIComponent(mail.id)}`}
                        className="mail-item"
                        aria-current={mail.id === openId ? "true" : undefined}
                      >
                        <span className="mail-subject">{mail.subject || "(no subject)"}</span>
                        <span className="task-meta">To {mail.to}</span>
                        <span className="task-meta">
                          <DateTime value={mail.created_at} />
                        </span>
                      </Link>
                    </li>
                  ))}
                </ul>
              )}
            </section>
            {openId && (
              <section className="card mail-reader" aria-labelledby="mail-subject">
                {open ? (
                  <MailReader mail={open} />
                ) : (
                  <>
                    <h2 id="mail-subject">Email not found</h2>
                    <p>This email is not among the latest {LIMIT}.</p>
                    <Link to="/mail">Back to the inbox</Link>
                  </>
                )}
              </section>
            )}
          </div>
        </>
      )}
    </>
  );
}

function MailReader({ mail }: { mail: SinkMail }) {
  const hasHtml = mail.html.trim().length > 0;
  const [view, setView] = useState<"html" | "text">(hasHtml ? "html" : "text");
  const heading = useRef<HTMLHeadingElement>(null);
  const subject = mail.subject || "(no subject)";

  // Opening an email takes the reader there.
  // biome-ignore lint/correctness/useExhaustiveDependencies: on each newly opened email.
  useEffect(() => {
    setView(hasHtml ? "html" : "text");
    heading.current?.focus();
  }, [mail.id]);

  return (
    <article>
      <p className="breadcrumb">
        <Link to="/mail">← Inbox</Link>
      </p>
      <h2 id="mail-subject" ref={heading} tabIndex={-1}>
        {subject}
      </h2>
      <dl className="facts">
        <dt>From</dt>
        <dd>{mail.from}</dd>
        <dt>To</dt>
        <dd>{mail.to}</dd>
        <dt>Received</dt>
        <dd>
          <DateTime value={mail.created_at} />
        </dd>
      </dl>
      {hasHtml && (
        <fieldset className="segmented">
          <legend className="visually-hidden">Show the email as</legend>
          <button
            type="button"
            className="button button-small"
            aria-pressed={view === "html"}
            onClick={() => setView("html")}
          >
            HTML
          </button>
          <button
            type="button"
            className="button button-small"
            aria-pressed={view === "text"}
            onClick={() => setView("text")}
          >
            Text
          </button>
        </fieldset>
      )}
      {view === "html" && hasHtml ? (
        <iframe
          className="mail-frame"
          title={`Email: ${subject}`}
          // No scripts, no same origin, no forms, no pop-ups: the email is only shown.
          sandbox=""
          referrerPolicy="no-referrer"
          srcDoc={mailDocument(mail.html)}
        />
      ) : (
        <pre className="mail-text">{mail.text || "(This email has no text part.)"}</pre>
      )}
    </article>
  );
}
