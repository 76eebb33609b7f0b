import type { Migration } from "kysely";
import * as m2026_11_23_090000_users_and_tasks from "./2026_11_23_090000_users_and_tasks.ts";
import * as m2026_11_23_120000_job_queue from "./2026_11_23_120000_job_queue.ts";
import * as m2026_11_23_120100_mail_sink from "./2026_11_23_120100_mail_sink.ts";
import * as m2026_11_23_130000_monitor from "./2026_11_23_130000_monitor.ts";
import * as m2026_11_23_140000_schedules from "./2026_11_23_140000_schedules.ts";
import * as m2026_11_23_150000_job_history from "./2026_11_23_150000_job_history.ts";
import * as m2026_11_23_150100_alerts from "./2026_11_23_150100_alerts.ts";
import * as m2026_11_23_160000_search_trigram_indexes from "./2026_11_23_160000_search_trigram_indexes.ts";
import * as m2026_11_23_160100_task_priority from "./2026_11_23_160100_task_priority.ts";
import * as m2026_11_23_160200_product_catalog from "./2026_11_23_160200_product_catalog.ts";
import * as m2026_11_23_160300_event_stream from "./2026_11_23_160300_event_stream.ts";
import * as m2026_11_23_160400_event_bus from "./2026_11_23_160400_event_bus.ts";
import * as m2026_11_23_160500_orders_and_notifications from "./2026_11_23_160500_orders_and_notifications.ts";
import * as m2026_11_23_160600_analytics from "./2026_11_23_160600_analytics.ts";
import * as m2026_11_23_160700_analytics_processed_at from "./2026_11_23_160700_analytics_processed_at.ts";
import * as m2026_11_23_161000_trace_context from "./2026_11_23_161000_trace_context.ts";
import * as m2026_12_07_090000_sent_emails from "./2026_12_07_090000_sent_emails.ts";
import * as m2026_12_07_151546_queue_tables_keep_their_pages from "./2026_12_07_151546_queue_tables_keep_their_pages.ts";

/**
 * Every migration, by name; applied in name order. Imported statically so that a bundled
 * build carries them. `taskflow migrate create NAME` writes the file and its two lines here.
 */
export const migrations: Record<string, Migration> = {
  "2026_11_23_090000_users_and_tasks": m2026_11_23_090000_users_and_tasks,
  "2026_11_23_120000_job_queue": m2026_11_23_120000_job_queue,
  "2026_11_23_120100_mail_sink": m2026_11_23_120100_mail_sink,
  "2026_11_23_130000_monitor": m2026_11_23_130000_monitor,
  "2026_11_23_140000_schedules": m2026_11_23_140000_schedules,
  "2026_11_23_150000_job_history": m2026_11_23_150000_job_history,
  "2026_11_23_150100_alerts": m2026_11_23_150100_alerts,
  "2026_11_23_160000_search_trigram_indexes": m2026_11_23_160000_search_trigram_indexes,
  "2026_11_23_160100_task_priority": m2026_11_23_160100_task_priority,
  "2026_11_23_160200_product_catalog": m2026_11_23_160200_product_catalog,
  "2026_11_23_160300_event_stream": m2026_11_23_160300_event_stream,
  "2026_11_23_160400_event_bus": m2026_11_23_160400_event_bus,
  "2026_11_23_160500_orders_and_notifications": m2026_11_23_160500_orders_and_notifications,
  "2026_11_23_160600_analytics": m2026_11_23_160600_analytics,
  "2026_11_23_160700_analytics_processed_at": m2026_11_23_160700_analytics_processed_at,
  "2026_11_23_161000_trace_context": m2026_11_23_161000_trace_context,
  "2026_12_07_090000_sent_emails": m2026_12_07_090000_sent_emails,
  "2026_12_07_151546_queue_tables_keep_their_pages":
    m2026_12_07_151546_queue_tables_keep_their_pages,
};
