/**
 * Failpoints: named steps where a process kills itself (SIGKILL, no clean-up) when the
 * chaos suite asks it to, so a crash lands exactly between two steps whose order matters
 * (after the effect, before the commit; after the commit, before the ack …).
 *
 * TASKFLOW_FAILPOINT=<site>[,<site>…] arms them. It is read here, once, when the module
 * loads, and not through @taskflow/config: a failpoint is a test instrument that every
 * process and package must be able to hit before (and without) a Config. Unset, a site
 * costs one comparison: no allocation, no string building (the sites are literals).
 */

/** Every failpoint site, where it sits in the code and what a crash there tests. */
export const FAILPOINTS = {
  /** Worker: the claim committed (PROCESSING, attempts + 1), before the handler runs. */
  "worker.after-claim": "worker: after the claim commit, before the handler",
  /** Worker: the handler's effect happened, its outcome is not committed. */
  "worker.after-effect": "worker: after the effect, before the outcome commit",
  /** Worker: the outcome committed (DONE/RETRYING/FAILED), the delivery not settled. */
  "worker.after-commit": "worker: after the outcome commit, before the ack",
  /** Relay: the engine confirmed a batch, its outbox rows are not deleted. */
  "relay.after-publish": "relay: after the publish (confirmed), before deleting the outbox rows",
  /** API: a POST /api/tasks batch committed (task + outbox), not answered. */
  "api.after-commit": "api: after the task commit, before answering",
  /** Mailer: the SMTP server accepted the email, the job is not completed. */
  "mailer.after-send": "mailer: after the SMTP send, before completing the job",
  /** Notifier: notifications committed, the event not acknowledged. */
  "notifier.after-commit": "notifier: after the notifications commit, before the ack",
  /** Analytics: a batch's aggregates committed, the stream offsets not. */
  "analytics.after-commit": "analytics: after the aggregates commit, before the offset commit",
} as const;

export type FailpointSite = keyof typeof FAILPOINTS;

function armedSites(value: string | undefined): ReadonlySet<string> | undefined {
  const sites = (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (sites.length === 0) return undefined;
  const unknown = sites.filter((s) => !(s in FAILPOINTS));
  if (unknown.length > 0) {
    throw new Error(
      `TASKFLOW_FAILPOINT: unknown site(s) ${unknown.join(", ")}; known: ${Object.keys(FAILPOINTS).join(", ")}`,
    );
  }
  return new Set(sites);
}

const armed = armedSites(process.env.TASKFLOW_FAILPOINT);

/** SIGKILLs this process if `site` is armed (TASKFLOW_FAILPOINT); otherwise does nothing. */
export function failpoint(site: FailpointSite): void {
  if (armed === undefined || !armed.has(site)) return;
  // Written synchronously: the suite reads it to tell a failpoint from another death.
  process.stderr.write(`failpoint ${site}: SIGKILL\n`);
  process.kill(process.pid, "SIGKILL");
}
