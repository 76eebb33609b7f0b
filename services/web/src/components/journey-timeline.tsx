import { useCallback, useEffect, useState } from "react";
import type { Schemas } from "../api/client.ts";
import { DateTime, formatDuration } from "./date-time.tsx";

export type Journey = Schemas["Journey"];
export type JourneyHop = Schemas["JourneyHop"];

type JourneyState =
  | { phase: "loading" }
  | { phase: "ready"; journey: Journey }
  | { phase: "error" };

/**
 * A task's or an order's journey through the services (GET …/journey): one entry per hop —
 * the service, the step, when it started and how long it took — and the trace id to look up
 * in the tracing backend. `version` reloads it (the task's status changed).
 */
export function JourneyTimeline({
  load,
  version,
  headingId,
}: {
  load: () => Promise<Journey>;
  version?: string;
  headingId: string;
}) {
  const [state, setState] = useState<JourneyState>({ phase: "loading" });
  const refresh = useCallback(async () => {
    try {
      setState({ phase: "ready", journey: await load() });
    } catch {
      setState({ phase: "error" });
    }
  }, [load]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` is the reload signal.
  useEffect(() => {
    void refresh();
  }, [refresh, version]);

  return (
    <section className="card" aria-labelledby={headingId}>
      <div className="title-row">
        <h2 id={headingId}>Journey</h2>
        <button type="button" className="button button-small" onClick={() => void refresh()}>
          Refresh journey
        </button>
      </div>
      {state.phase === "loading" && <p className="muted">Loading the journey…</p>}
      {state.phase === "error" && <p className="muted">The journey could not be loaded.</p>}
      {state.phase === "ready" && (
        <>
          <p className="muted">
            Trace{" "}
            {state.journey.trace_id ? (
              <span className="mono">{state.journey.trace_id}</span>
            ) : (
              "not recorded (the request carried no trace context)"
            )}
          </p>
          <ol className="timeline" aria-label="Journey through the services">
            {state.journey.hops.map((hop) => (
              <li key={`${hop.service}-${hop.step}-${hop.at}`}>
                <span className="timeline-label">{hop.service}</span> {hop.step} ·{" "}
                <DateTime value={hop.at} />
                <span className="timeline-detail">
                  {" "}
                  ({hop.duration_ms === null ? "still running" : formatDuration(hop.duration_ms)})
                </span>
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
