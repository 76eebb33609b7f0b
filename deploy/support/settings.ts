import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Helpers for the deployment material's tests (deploy/*\/test, deploy/compose/e2e). */

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export const requireTools = process.env.TASKFLOW_REQUIRE_SERVICES === "1";

/**
 * The roles of the taskflow program that each run as a deployable of their own (its commands
 * but `start`): the images, compose services and Kubernetes Deployments there must be.
 */
export const TASKFLOW_ROLES = [
  "api",
  "relay",
  "worker",
  "mailer",
  "notifier",
  "analytics",
  "scheduler",
  "alerts",
  "validator",
] as const;

/** The engines compose.yaml runs beside them. */
export const COMPOSE_ENGINES = ["postgres", "redis", "rabbitmq", "kafka"] as const;

/**
 * Every environment variable TaskFlow reads: the keys of the schema in packages/config (the
 * only reader of process.env), read from its source so that a new setting cannot be missed.
 */
export function taskflowSettings(): string[] {
  const source = readFileSync(path.join(repoRoot, "packages/config/src/index.ts"), "utf8");
  const schema = source.slice(source.indexOf("const envSchema"), source.indexOf("export type Env"));
  const names = [...schema.matchAll(/^ {2}((?:NODE_ENV|TASKFLOW_[A-Z0-9_]+)):/gm)].map((m) => m[1]);
  if (names.length < 20) throw new Error("could not read the settings from packages/config");
  return names as string[];
}

/**
 * A validator package from the npm registry, loaded through Node's resolution (so NODE_PATH
 * works too), typed by the caller. Throws with what to install when it is missing.
 */
export function loadTool<T>(specifier: string): T {
  const require = createRequire(import.meta.url);
  try {
    return require(specifier) as T;
  } catch (error) {
    throw new Error(
      `${specifier} is missing: the deployment tests need the root devDependencies (npm install)`,
      { cause: error },
    );
  }
}

/** The folder of an installed package (it must export ./package.json). */
export function packageDir(name: string): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve(`${name}/package.json`));
}
