import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  ApiClient,
  type ChildEnv,
  createTestDatabase,
  engineAvailable,
  freePort,
  killAllRoles,
  newCredentials,
  type RoleProcess,
  runMigrations,
  runTaskflow,
  signUp,
  startRole,
  type TestDatabase,
} from "@taskflow/testing";
import { type NginxRun, nginxForTests, startNginx } from "../../deploy/nginx/test/nginx-fixture.ts";

/**
 * What the fuzzer attacks: `taskflow validator` and `taskflow api` as processes, on a
 * PostgreSQL database of the run's own, deploy/nginx/nginx.conf in front of the API (when
 * nginx is installed), and real accounts — two users and an operator — with their tokens.
 */

export interface Account {
  email: string;
  password: string;
  token: string;
  id: string;
}

export interface FuzzStack {
  /** The API's own port. */
  apiUrl: string;
  /** nginx in front of it; undefined without nginx (allowed unless services are required). */
  nginxUrl: string | undefined;
  api: RoleProcess;
  validator: RoleProcess;
  /** `host:port` of the validator's gRPC server. */
  validatorAddress: string;
  user: Account;
  otherUser: Account;
  operator: Account;
  /** Everything the processes wrote, for a failure's report. */
  output(): string;
  close(): Promise<void>;
}

/** Whether the stack can run here (PostgreSQL); throws when it must and cannot. */
export async function fuzzStackAvailable(): Promise<boolean> {
  return engineAvailable("postgres");
}

function emptyWebRoot(): string {
  const root = mkdtempSync(path.join(tmpdir(), "taskflow-fuzz-web-"));
  writeFileSync(path.join(root, "index.html"), "<!doctype html><title>TaskFlow</title>\n");
  // Started as root, nginx's workers run as another user: they must read it.
  chmodSync(root, 0o755);
  return root;
}

export async function startFuzzStack(
  options: { nginx?: boolean; extraEnv?: ChildEnv } = {},
): Promise<FuzzStack> {
  const nginx = options.nginx === false ? undefined : nginxForTests();
  const root = emptyWebRoot();
  let database: TestDatabase | undefined;
  let proxy: NginxRun | undefined;
  try {
    database = await createTestDatabase("taskflow_fuzz");
    const operatorCredentials = newCredentials("fuzz-operator");
    const env: ChildEnv = {
      TASKFLOW_DATABASE_URL: database.url,
      TASKFLOW_JWT_SECRET: randomBytes(32).toString("base64url"),
      // Errors (a 5xx is logged with its stack) and warnings only.
      TASKFLOW_LOG_LEVEL: "warn",
      TASKFLOW_TRUST_PROXY: "true",
      TASKFLOW_WEB_DIR: root,
      TASKFLOW_ADMIN_EMAILS: operatorCredentials.email,
      ...options.extraEnv,
    };
    await runMigrations(env);
    const [validator, created] = await Promise.all([
      startRole("validator", env, { readyTimeoutMs: 120_000 }),
      runTaskflow(["user", "create", operatorCredentials.email, "Fuzz Operator"], env, {
        input: `${operatorCredentials.password}\n`,
      }),
    ]);
    if (created.code !== 0)
      throw new Error(`taskflow user create failed:\n${created.stdout}${created.stderr}`);
    const api = await startRole(
      "api",
      { ...env, TASKFLOW_VALIDATOR_URL: validator.address },
      { readyTimeoutMs: 120_000 },
    );
    if (nginx) {
      proxy = await startNginx(nginx, { port: await freePort(), upstreams: [api.address], root });
    }
    const account = async (prefix: string): Promise<Account> => {
      const credentials = newCredentials(prefix);
      const { client, userId } = await signUp(api.url, credentials);
      return { ...credentials, token: client.token ?? "", id: userId };
    };
    const user = await account("fuzz-user");
    const otherUser = await account("fuzz-other");
    const operatorClient = await new ApiClient(api.url).login(operatorCredentials);
    const me = await operatorClient.request<{ id: string; operator: boolean }>(
      "GET",
      "/api/auth/me",
    );
    if (!me.body.operator) throw new Error("the operator account is not an operator");
    const operator: Account = {
      ...operatorCredentials,
      token: operatorClient.token ?? "",
      id: me.body.id,
    };
    const db = database;
    const ran = proxy;
    return {
      apiUrl: api.url,
      nginxUrl: proxy?.url,
      api,
      validator,
      validatorAddress: validator.address,
      user,
      otherUser,
      operator,
      output: () =>
        [
          `== taskflow api\n${api.output()}`,
          `== taskflow validator\n${validator.output()}`,
          ...(ran ? [`== nginx\n${ran.output()}`] : []),
        ].join("\n"),
      async close() {
        await ran?.stop();
        await api.stop().catch(() => {});
        await validator.stop().catch(() => {});
        await killAllRoles();
        await db.drop();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await proxy?.stop();
    await killAllRoles();
    await database?.drop();
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}
