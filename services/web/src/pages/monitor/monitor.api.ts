import { api, type Schemas, unwrap } from "../../api/client.ts";
import type { paths } from "../../api/schema.gen.ts";

export type MonitorQueue = Schemas["MonitorQueue"];
export type MonitorWorker = Schemas["MonitorWorker"];
export type MonitorJob = Schemas["MonitorJob"];
export type MonitorJobPage = Schemas["MonitorJobPage"];
export type DeadLetter = Schemas["DeadLetter"];
export type JobState = MonitorJob["state"];
export type DeadLetterSource = DeadLetter["source"];
export type RedriveBody =
  paths["/api/monitor/dead-letters/redrive"]["post"]["requestBody"]["content"]["application/json"];
export type PurgeDeadLettersBody =
  paths["/api/monitor/dead-letters/purge"]["post"]["requestBody"]["content"]["application/json"];

/** Every job state, in a job's order of life; a Record so a new state fails the build here. */
const JOB_STATE_LABELS: Record<JobState, string> = {
  waiting: "Waiting",
  delayed: "Delayed",
  active: "Active",
  completed: "Completed",
  failed: "Failed",
};
export const JOB_STATES = Object.keys(JOB_STATE_LABELS) as JobState[];

export function jobStateLabel(state: JobState): string {
  return JOB_STATE_LABELS[state];
}

export function isJobState(value: unknown): value is JobState {
  return typeof value === "string" && Object.hasOwn(JOB_STATE_LABELS, value);
}

/** The monitor's calls (operators only: 403 to anyone else). */
export const monitorApi = {
  queues() {
    return unwrap(api.GET("/api/monitor/queues"));
  },
  workers() {
    return unwrap(api.GET("/api/monitor/workers"));
  },
  jobs(query: { state?: JobState | undefined; cursor?: string | undefined; limit?: number }) {
    return unwrap(api.GET("/api/monitor/jobs", { params: { query } }));
  },
  deadLetters() {
    return unwrap(api.GET("/api/monitor/dead-letters", { params: { query: { limit: 50 } } }));
  },
  /** A FAILED task back to PENDING, attempts from 0 (its dead letters go). */
  retryTask(id: string) {
    return unwrap(api.POST("/api/monitor/tasks/{id}/retry", { params: { path: { id } } }));
  },
  /** A failed job runs again, attempts from 0. */
  retryJob(id: string) {
    return unwrap(api.POST("/api/monitor/jobs/{id}/retry", { params: { path: { id } } }));
  },
  /** Dead letters back to their queue; with one id, `payload` replaces the task's or job's. */
  redrive(body: RedriveBody) {
    return unwrap(api.POST("/api/monitor/dead-letters/redrive", { body }));
  },
  /**
   * Drops task dead letters for good (those of `ids`, else the whole dead-letter queue); their
   * tasks stay FAILED. Answers how many messages went.
   */
  purgeDeadLetters(body: PurgeDeadLettersBody) {
    return unwrap(api.POST("/api/monitor/dead-letters/purge", { body }));
  },
  /** Removes a job that is not running from the engine (its history stays). */
  purgeJob(id: string) {
    return unwrap(api.DELETE("/api/monitor/jobs/{id}", { params: { path: { id } } }));
  },
};
