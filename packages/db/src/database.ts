import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { PREPARED } from "./prepared.ts";
import type { Database } from "./schema.ts";

export type DatabaseEngine = "postgres" | "pglite";

export interface DatabaseOptions {
  /** PostgreSQL URL; without one, PGlite runs embedded in `dataDir`. */
  url?: string | undefined;
  /** Folder for the embedded engine's files; "memory://" keeps them in memory. */
  dataDir: string;
  poolSize?: number;
  /**
   * PostgreSQL's application_name for this process's sessions (its notification session gets
   * "-listener" after it): pg_stat_activity, and the benchmark's CPU per client, tell the roles
   * apart by it. Default "taskflow".
   */
  applicationName?: string;
  /** Called when the notification session fails and reconnects (notifications may have been missed). */
  onSessionError?: (error: Error) => void;
}

/** A session-level advisory lock, held on the dedicated session until released or the session drops. */
export interface SessionLock {
  readonly held: boolean;
  release(): Promise<void>;
}

/**
 * One database, whichever engine: a Kysely instance for queries and a dedicated session for
 * LISTEN/NOTIFY and advisory locks (which must outlive any pooled connection).
 */
export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly engine: DatabaseEngine;
  /** Runs `onNotify` for every NOTIFY on `channel`; resolves once listening. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** Runs `onReconnect` whenever the notification session comes back after a drop. */
  onReconnect(handler: () => void): void;
  /** Tries to take a named advisory lock on the dedicated session. */
  tryLock(name: string): Promise<SessionLock | undefined>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

// int8 (counts, identities) as JS numbers: they stay far below 2^53 here.
const INT8_OID = 20;

export async function createDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  return options.url ? createPostgres(options.url, options) : createPglite(options.dataDir);
}

async function createPglite(dataDir: string): Promise<DatabaseHandle> {
  // Loaded only here: a process on PostgreSQL never pays PGlite's memory.
  const [{ PGlite }, { PGliteDialect }, { pg_trgm }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("kysely-pglite-dialect"),
    import("@electric-sql/pglite/contrib/pg_trgm"),
  ]);
  const location = dataDir.startsWith("memory://") ? dataDir : path.resolve(dataDir, "pgdata");
  if (!location.startsWith("memory://")) mkdirSync(location, { recursive: true });
  const client = await PGlite.create(location, {
    parsers: { [INT8_OID]: (value: string) => Number(value) },
    // Contrib extensions load only when listed: the monitor's search indexes need pg_trgm.
    extensions: { pg_trgm },
  });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  const locks = new Set<string>();
  return {
    db,
    engine: "pglite",
    async listen(channel, onNotify) {
      const unlisten = await client.listen(channel, onNotify);
      return async () => {
        await unlisten();
      };
    },
    onReconnect() {
      // One in-process session that cannot drop.
    },
    async tryLock(name) {
      // PGlite serves one process: a lock only has to exclude loops within it.
      if (locks.has(name)) return undefined;
      locks.add(name);
      return {
        get held() {
          return locks.has(name);
        },
        async release() {
          locks.delete(name);
        },
      };
    },
    async ping() {
      await sql`SELECT 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}

async function createPostgres(url: string, options: DatabaseOptions): Promise<DatabaseHandle> {
  const types = {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      oid === INT8_OID
        ? (value: string) => Number(value)
        : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  };
  const pool = new pg.Pool({
    Client: PreparingClient,
    connectionString: url,
    max: options.poolSize ?? 10,
    types,
    application_name: options.applicationName ?? "taskflow",
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  // Nor a checked-out client's: the pool listens only to idle ones, and a connection that
  // ends under a running query (`pg_ctl stop -m immediate` sends no error first) emits
  // 'error' before the query rejects. Its queries fail; on release the pool drops it.
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const session = new NotificationSession(
    url,
    types,
    `${options.applicationName ?? "taskflow"}-listener`,
    options.onSessionError,
  );
  return {
    db,
    engine: "postgres",
    listen: (channel, onNotify) => session.listen(channel, onNotify),
    onReconnect: (handler) => session.reconnectHandlers.add(handler),
    tryLock: (name) => session.tryLock(name),
    async ping() {
      await sql`SELECT 1`.execute(db);
    },
    async close() {
      await session.close();
      await db.destroy();
    },
  };
}

/**
 * A pg client that runs statements starting with PREPARED as named prepared statements:
 * PostgreSQL parses and plans them once per connection instead of on every call. Only for
 * statements whose text does not vary with their input (arrays, not lists of parameters),
 * or a connection would keep one prepared statement per variant.
 */
class PreparingClient extends pg.Client {
  private static readonly names = new Map<string, string>();

  // biome-ignore lint/suspicious/noExplicitAny: pg's query overloads cannot be forwarded typed
  override query(...args: any[]): any {
    const [text, values, ...rest] = args;
    if (typeof text === "string" && text.startsWith(PREPARED) && Array.isArray(values)) {
      let name = PreparingClient.names.get(text);
      if (!name) {
        name = `tf_${createHash("sha1").update(text).digest("base64url")}`;
        PreparingClient.names.set(text, name);
      }
      return super.query({ name, text, values }, ...rest);
    }
    // biome-ignore lint/suspicious/noExplicitAny: as above
    return (super.query as (...a: any[]) => any)(...args);
  }
}

/**
 * The one long-lived connection a process keeps for LISTEN and advisory locks. It reconnects
 * with backoff and re-issues every LISTEN; locks are lost with the session and must be retaken.
 */
class NotificationSession {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private closed = false;
  private readonly channels = new Map<string, Set<(payload: string) => void>>();
  private readonly heldLocks = new Set<string>();
  readonly reconnectHandlers = new Set<() => void>();

  constructor(
    private readonly url: string,
    private readonly types: pg.CustomTypesConfig,
    private readonly applicationName: string,
    private readonly onError?: (error: Error) => void,
  ) {}

  async listen(channel: string, onNotify: (payload: string) => void) {
    let handlers = this.channels.get(channel);
    if (!handlers) {
      handlers = new Set();
      this.channels.set(channel, handlers);
      const client = await this.connect();
      await client.query(`LISTEN ${quoteIdent(channel)}`);
    }
    handlers.add(onNotify);
    return async () => {
      handlers.delete(onNotify);
    };
  }

  async tryLock(name: string): Promise<SessionLock | undefined> {
    if (this.heldLocks.has(name)) return undefined;
    const client = await this.connect();
    const { rows } = await client.query<{ locked: boolean }>(
      "SELECT pg_try_advisory_lock(hashtext($1)) AS locked",
      [name],
    );
    if (!rows[0]?.locked) return undefined;
    this.heldLocks.add(name);
    const locks = this.heldLocks;
    return {
      get held() {
        return locks.has(name);
      },
      release: async () => {
        if (!locks.delete(name)) return;
        await this.client?.query("SELECT pg_advisory_unlock(hashtext($1))", [name]).catch(() => {});
      },
    };
  }

  private connect(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.url,
      types: this.types,
      application_name: this.applicationName,
      keepAlive: true,
    });
    client.on("notification", (message) => {
      for (const handler of this.channels.get(message.channel) ?? [])
        handler(message.payload ?? "");
    });
    client.on("error", (error) => this.drop(client, error));
    client.on("end", () => this.drop(client, new Error("notification session ended")));
    await client.connect();
    this.client = client;
    return client;
  }

  private drop(client: pg.Client, error: Error) {
    if (this.client !== client) return;
    this.client = undefined;
    this.heldLocks.clear();
    client.removeAllListeners("notification");
    void client.end().catch(() => {});
    if (this.closed) return;
    this.onError?.(error);
    void this.reconnect(250);
  }

  private async reconnect(delayMs: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
    if (this.closed) return;
    try {
      const client = await this.connect();
      for (const channel of this.channels.keys()) {
        await client.query(`LISTEN ${quoteIdent(channel)}`);
      }
      for (const handler of this.reconnectHandlers) handler();
    } catch {
      this.client = undefined;
      await this.reconnect(Math.min(delayMs * 2, 5_000));
    }
  }

  async close() {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    this.heldLocks.clear();
    await client?.end().catch(() => {});
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
