export { type Kysely, type KyselyPlugin, sql, type Transaction } from "kysely";
export * from "./database.ts";
export * from "./group-commit.ts";
export * from "./heartbeats.ts";
export * from "./migrator.ts";
export * from "./outbox.ts";
export * from "./schema.ts";
