export { type Kysely, type KyselyPlugin, type RawBuilder, sql, type Transaction } from "kysely";
export * from "./database.ts";
export * from "./group-commit.ts";
export * from "./heartbeats.ts";
export * from "./migrator.ts";
export * from "./outbox.ts";
export * from "./page.ts";
export * from "./prepared.ts";
export * from "./schema.ts";
