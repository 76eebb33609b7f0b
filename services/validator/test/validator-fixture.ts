import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createTokenService } from "@taskflow/auth";
import { CatalogService, OrderValidationService } from "@taskflow/contracts";
import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import { createLogger } from "@taskflow/observability";
import { createTestDatabase, type TestDatabase } from "@taskflow/testing";
import { protoPath as healthProtoPath } from "grpc-health-check";
import {
  createGrpcClient,
  createProductRepository,
  createValidatorServer,
  type ProductRepository,
} from "../src/index.ts";

export const JWT_SECRET = "a-test-secret-that-is-long-enough-for-hs256";
export const ADA = {
  id: "0190a000-0000-7000-8000-000000000001",
  email: "ada@example.com",
  name: "Ada",
};

export type Engine = "pglite" | "postgres";

export interface MigratedDatabase {
  database: DatabaseHandle;
  close(): Promise<void>;
}

/** PGlite in memory, or a PostgreSQL database of its own; migrated, so the catalog is seeded. */
export async function migratedDatabase(engine: Engine = "pglite"): Promise<MigratedDatabase> {
  let testDatabase: TestDatabase | undefined;
  let database: DatabaseHandle;
  if (engine === "postgres") {
    testDatabase = await createTestDatabase("taskflow_validator");
    database = await createDatabase({ url: testDatabase.url, dataDir: "unused", poolSize: 4 });
  } else {
    database = await createDatabase({ dataDir: "memory://" });
  }
  await migrateUp(database.db);
  return {
    database,
    async close() {
      await database.close();
      await testDatabase?.drop();
    },
  };
}

/**
 * A validator on an ephemeral loopback port, over a migrated (hence seeded) catalog on PGlite
 * in memory or a PostgreSQL database of its own, with clients of both services.
 * `control` slows catalog reads and fails readiness on demand.
 */
export async function startValidator(
  options: { engine?: Engine; database?: MigratedDatabase } = {},
) {
  const owned = options.database ? undefined : await migratedDatabase(options.engine);
  const { database } = options.database ?? (owned as MigratedDatabase);
  const tokens = createTokenService({ secret: JWT_SECRET, ttlSeconds: 60 });
  /** Knobs for the tests: slow catalog reads, count them, make readiness fail. */
  const control = { catalogDelayMs: 0, catalogReads: 0, databaseUp: true };
  const repository = createProductRepository(database.db);
  const delay = () => new Promise((resolve) => setTimeout(resolve, control.catalogDelayMs));
  const products: ProductRepository = {
    async snapshot(skus) {
      control.catalogReads++;
      if (control.catalogDelayMs) await delay();
      return repository.snapshot(skus);
    },
    async list(query) {
      control.catalogReads++;
      if (control.catalogDelayMs) await delay();
      return repository.list(query);
    },
  };
  const server = createValidatorServer({
    products,
    tokens,
    logger: createLogger({ level: "silent", service: "validator-test" }),
    ready: async () => {
      if (!control.databaseUp) throw new Error("the database is down (test)");
      await database.ping();
    },
    readinessIntervalMs: 100,
  });
  const { url, port } = await server.listen("127.0.0.1", 0);
  const token = (await tokens.issue(ADA)).access_token;
  const validation = createGrpcClient(OrderValidationService, url);
  const catalog = createGrpcClient(CatalogService, url);

  /** Call options with the bearer token (or the given authorization value). */
  const authorized = (authorization = `Bearer ${token}`) => {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", authorization);
    return { metadata, timeoutMs: 5_000 };
  };

  return {
    url,
    port,
    server,
    database,
    tokens,
    token,
    control,
    validation,
    catalog,
    authorized,
    async close() {
      validation.close();
      catalog.close();
      await server.shutdown(1_000);
      await owned?.close();
    },
  };
}

export type TestValidator = Awaited<ReturnType<typeof startValidator>>;

/** The status code a rejected grpc-js call ended with. */
export async function statusOf(call: Promise<unknown>): Promise<grpc.status | "OK"> {
  try {
    await call;
    return "OK";
  } catch (error) {
    return (error as grpc.ServiceError).code;
  }
}

export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

export interface HealthClient extends grpc.Client {
  check(
    request: { service: string },
    callback: (error: grpc.ServiceError | null, response?: { status: ServingStatus }) => void,
  ): void;
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: ServingStatus }>;
}

// The standard health client, from the .proto grpc-health-check ships: what probes use.
const healthPackage = grpc.loadPackageDefinition(
  protoLoader.loadSync(healthProtoPath, { enums: String }),
) as unknown as { grpc: { health: { v1: { Health: new (...args: unknown[]) => HealthClient } } } };

export function healthClient(url: string): HealthClient {
  return new healthPackage.grpc.health.v1.Health(url, grpc.credentials.createInsecure());
}

export const check = (client: HealthClient, service: string) =>
  new Promise<ServingStatus>((resolve, reject) =>
    client.check({ service }, (error, response) =>
      error ? reject(error) : resolve(response?.status ?? "UNKNOWN"),
    ),
  );
