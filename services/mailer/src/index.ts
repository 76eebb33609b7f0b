export * from "./mailer-worker.ts";
