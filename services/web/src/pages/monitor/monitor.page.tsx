import { useCallback, useState } from "react";
import { NavLink, Route, Routes } from "react-router";
import { OperatorsOnly } from "../../components/operators-only.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";
import { useSession } from "../../session/session-context.tsx";
import NotFoundPage from "../not-found.page.tsx";
import { MonitorDeadLetters } from "./dead-letters.tsx";
import { MonitorJobs } from "./jobs.tsx";
import { ForbiddenContext } from "./monitor-data.ts";
import { MonitorLiveProvider, POLL_MS, useMonitorLive } from "./monitor-live.tsx";
import { MonitorOverview } from "./overview.tsx";

const SECTIONS = [
  { to: "/monitor", label: "Overview", end: true },
  { to: "/monitor/jobs", label: "Jobs", end: false },
  { to: "/monitor/dead-letters", label: "Dead letters", end: false },
];

/**
 * /monitor (operators): the overview (queues, workers), /monitor/jobs (jobs by state) and
 * /monitor/dead-letters (retry, requeue, purge). Live from /api/monitor/events, polling every
 * 5 s while that stream is down.
 */
export default function MonitorPage() {
  const session = useSession();
  const operator = session.status === "signed-in" && session.operator;
  const [forbidden, setForbidden] = useState(false);
  const reportForbidden = useCallback(() => setForbidden(true), []);
  useDocumentTitle("Monitor");

  if (forbidden) {
    return (
      <>
        <h1>Monitor</h1>
        <OperatorsOnly title="The monitor is for operators only" />
      </>
    );
  }

  return (
    <ForbiddenContext.Provider value={reportForbidden}>
      {/* The API decides (403): a session that does not know it is an operator's still asks. */}
      <MonitorLiveProvider enabled={operator}>
        <h1>Monitor</h1>
        <div className="toolbar monitor-toolbar">
          <nav aria-label="Monitor sections" className="tabs">
            <ul>
              {SECTIONS.map((section) => (
                <li key={section.to}>
                  <NavLink to={section.to} end={section.end}>
                    {section.label}
                  </NavLink>
                </li>
              ))}
            </ul>
          </nav>
          <LiveControls />
        </div>
        <Routes>
          <Route index element={<MonitorOverview />} />
          <Route path="jobs" element={<MonitorJobs />} />
          <Route path="dead-letters" element={<MonitorDeadLetters />} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </MonitorLiveProvider>
    </ForbiddenContext.Provider>
  );
}

/** How the views stay current, and "Refresh". */
function LiveControls() {
  const { status, refresh } = useMonitorLive();
  const live = status === "open";
  return (
    <div className="monitor-live">
      <span className={`live live-${live ? "open" : "reconnecting"}`}>
        <span className="live-dot" aria-hidden="true" />
        {live ? "Live updates" : `Refreshing every ${POLL_MS / 1000} s`}
      </span>
      <button type="button" className="button button-small" onClick={refresh}>
        Refresh
      </button>
    </div>
  );
}
