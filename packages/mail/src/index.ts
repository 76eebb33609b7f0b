export * from "./alert-jobs.ts";
export * from "./create-mailer.ts";
export * from "./mail-jobs.ts";
export * from "./mailer.ts";
export * from "./order-jobs.ts";
export * from "./sent-ledger.ts";
export * from "./sink.mailer.ts";
export * from "./templates.ts";
