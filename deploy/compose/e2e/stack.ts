import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { repoRoot } from "../../support/settings.ts";
import { buildKafkaStandIn } from "../kafka-stand-in/build.ts";

/**
 * compose.yaml brought up for real with podman, as ../shared/containers.md describes: the
 * official images' stand-ins (make-images.sh), a stand-in for apache/kafka (../kafka-stand-in),
 * the project's images built from deploy/docker/Dockerfile unchanged, then
 * compose-up-healthy.py (podman-compose, started in dependency order, gated on healthchecks).
 */

const run = promisify(execFile);

export const COMPOSE_FILE = path.join(repoRoot, "compose.yaml");
/** ../shared beside the repository (CI's clone has it there), or TASKFLOW_SHARED_DIR. */
export const SHARED_DIR = process.env.TASKFLOW_SHARED_DIR ?? path.resolve(repoRoot, "../shared");

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; target?: string };
}

export function composeServices(): Record<string, ComposeService> {
  const compose = parse(readFileSync(COMPOSE_FILE, "utf8"), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  return compose.services;
}

/** An image name with compose's variables at their defaults (`${TASKFLOW_IMAGE_TAG:-latest}`). */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, "$1");
}

/** What Docker would pull for a short name: docker.io/library/x, docker.io/org/x. */
export function qualified(image: string): string {
  const first = image.split("/")[0] ?? "";
  if (image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost"))
    return image;
  return image.includes("/") ? `docker.io/${image}` : `docker.io/library/${image}`;
}

export async function sh(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  try {
    const { stdout } = await run(command, args, {
      cwd: options.cwd ?? repoRoot,
      env: options.env ?? process.env,
      maxBuffer: 256 * 1024 * 1024,
      timeout: options.timeoutMs ?? 30 * 60_000,
    });
    return stdout;
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    const tail = (text = "") => text.split("\n").slice(-60).join("\n");
    throw new Error(
      `${command} ${args.join(" ")} failed: ${e.message}\n${tail(e.stdout)}\n${tail(e.stderr)}`,
    );
  }
}

/** Like `sh`, the output going to ours as it comes (long builds show progress). */
export function shLive(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: options.env ?? process.env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited ${code}`)),
    );
  });
}

/** The stand-ins of the official images (idempotent: what exists is kept). */
export async function makeBaseImages(): Promise<void> {
  const script = path.join(SHARED_DIR, "containers/make-images.sh");
  if (!existsSync(script)) throw new Error(`${script} not found (set TASKFLOW_SHARED_DIR)`);
  await shLive("bash", [script]);
}

/** The apache/kafka stand-in, under the name compose.yaml gives the kafka service. */
export async function makeKafkaImage(log: (message: string) => void): Promise<string> {
  const image = composeServices().kafka?.image;
  if (!image) throw new Error("compose.yaml has no kafka image");
  await buildKafkaStandIn(qualified(withDefaults(image)), { log });
  return qualified(withDefaults(image));
}

/**
 * Every image compose.yaml builds, with podman and the Dockerfile as they are (layer cache:
 * a code change rebuilds the bundle only). `--format docker` keeps the HEALTHCHECKs.
 * Resolves to the images built.
 */
export async function buildProjectImages(log: (message: string) => void): Promise<string[]> {
  // One snapshot of the sources for every image: each is built from the same code, and the
  // layers they share (the install, the bundle) are built once even while files change.
  const context = mkdtempSync(path.join(tmpdir(), "taskflow-context-"));
  const skipped = new Set([
    "node_modules",
    ".git",
    ".taskflow",
    "dist",
    "coverage",
    "test-results",
  ]);
  cpSync(repoRoot, context, {
    recursive: true,
    filter: (source) => !skipped.has(path.basename(source)),
  });
  try {
    return await buildImages(context, log);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

async function buildImages(context: string, log: (message: string) => void): Promise<string[]> {
  const images = new Map<string, { dockerfile: string; target?: string | undefined }>();
  for (const service of Object.values(composeServices())) {
    if (!service.build || !service.image) continue;
    images.set(withDefaults(service.image), {
      dockerfile: path.join(
        context,
        service.build.context ?? ".",
        service.build.dockerfile ?? "Dockerfile",
      ),
      target: service.build.target,
    });
  }
  for (const [image, { dockerfile, target }] of images) {
    const started = Date.now();
    await sh(
      "podman",
      [
        "build",
        "--pull=never",
        "--network=host",
        "--format=docker",
        "--file",
        dockerfile,
        ...(target ? ["--target", target] : []),
        "--tag",
        image,
        context,
      ],
      { cwd: context },
    );
    log(`built ${image} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return [...images.keys()];
}

/**
 * A TCP port nothing listens on now, below the ephemeral range (32768–60999 on Linux) from
 * which every other program's listen(0) and outgoing connections draw, so that it is still free
 * when the stack starts.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export interface Stack {
  project: string;
  env: NodeJS.ProcessEnv;
  files: string[];
  baseUrl: string;
  ports: Record<string, number>;
  workers: number;
  overrideDir: string;
}

/** The environment compose.yaml is read with: free host ports, a JWT secret, nothing else. */
export async function stackSettings(project: string, workers: number): Promise<Stack> {
  const ports = {
    TASKFLOW_HTTP_PORT: await freePort(),
    POSTGRES_PORT: await freePort(),
    REDIS_PORT: await freePort(),
    RABBITMQ_PORT: await freePort(),
    RABBITMQ_MANAGEMENT_PORT: await freePort(),
  };
  // Nothing of the caller's TaskFlow settings leaks into the stack: compose.yaml's defaults.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("TASKFLOW_") && k !== "NODE_ENV"),
  );
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    TASKFLOW_JWT_SECRET: randomBytes(48).toString("base64url"),
  };
  // podman-compose 1.0.3 ignores `--scale`; `deploy.replicas` is what it reads.
  const overrideDir = mkdtempSync(path.join(tmpdir(), "taskflow-compose-"));
  const override = path.join(overrideDir, "scale.yaml");
  writeFileSync(override, `services:\n  worker:\n    deploy:\n      replicas: ${workers}\n`);
  return {
    project,
    env,
    files: [COMPOSE_FILE, override],
    baseUrl: `http://127.0.0.1:${ports.TASKFLOW_HTTP_PORT}`,
    ports,
    workers,
    overrideDir,
  };
}

export async function podmanCompose(stack: Stack, args: string[]): Promise<string> {
  return sh(
    "podman-compose",
    ["-p", stack.project, ...stack.files.flatMap((f) => ["-f", f]), ...args],
    { env: stack.env },
  );
}

/** Up, in dependency order, each `condition:` met before its dependents start. */
export async function up(stack: Stack): Promise<void> {
  await shLive(
    path.join(SHARED_DIR, "containers/compose-up-healthy.py"),
    [...stack.files.flatMap((f) => ["-f", f]), "-p", stack.project, "--timeout", "300"],
    { env: stack.env },
  );
}

/** The project's containers, by service: names in creation order. */
export async function containers(project: string): Promise<Record<string, string[]>> {
  const out = await sh("podman", [
    "ps",
    "-a",
    "--filter",
    `label=io.podman.compose.project=${project}`,
    "--format",
    '{{.Names}}\t{{index .Labels "com.docker.compose.service"}}',
  ]);
  const byService: Record<string, string[]> = {};
  for (const line of out.trim().split("\n").filter(Boolean)) {
    const [name, service] = line.split("\t") as [string, string];
    byService[service] = [...(byService[service] ?? []), name];
  }
  for (const names of Object.values(byService)) names.sort();
  return byService;
}

export async function healthy(container: string): Promise<boolean> {
  try {
    await sh("podman", ["healthcheck", "run", container], { timeoutMs: 60_000 });
    return true;
  } catch {
    return false;
  }
}

export async function waitHealthy(container: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await healthy(container))) {
    if (Date.now() > deadline) {
      const logs = await sh("podman", ["logs", "--tail", "40", container]).catch(() => "");
      throw new Error(`${container} not healthy after ${timeoutMs} ms:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/**
 * `down -v`, and what podman-compose 1.0.3 leaves behind removed too: the project network and
 * the anonymous volumes of images' VOLUME lines. Resolves to what is left (nothing, if all went).
 */
export async function down(stack: Stack): Promise<string[]> {
  const anonymous = new Set<string>();
  for (const names of Object.values(await containers(stack.project))) {
    for (const name of names) {
      const mounts = await sh("podman", [
        "inspect",
        "--format",
        '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}',
        name,
      ]).catch(() => "");
      for (const volume of mounts.split(/\s+/).filter(Boolean)) anonymous.add(volume);
    }
  }
  await podmanCompose(stack, ["down", "-v"]).catch(() => "");
  for (const volume of anonymous)
    await sh("podman", ["volume", "rm", "-f", volume]).catch(() => "");
  await sh("podman", ["network", "rm", "-f", `${stack.project}_default`]).catch(() => "");
  rmSync(stack.overrideDir, { recursive: true, force: true });
  return leftovers(stack.project, [...anonymous]);
}

export async function leftovers(project: string, volumes: string[] = []): Promise<string[]> {
  const label = `label=io.podman.compose.project=${project}`;
  const left = [
    ...(await sh("podman", ["ps", "-a", "--filter", label, "--format", "container {{.Names}}"]))
      .trim()
      .split("\n"),
    ...(await sh("podman", ["volume", "ls", "--filter", label, "--format", "volume {{.Name}}"]))
      .trim()
      .split("\n"),
    ...(await sh("podman", ["network", "ls", "--format", "network {{.Name}}"]))
      .trim()
      .split("\n")
      .filter((line) => line.startsWith(`network ${project}_`)),
    ...(await sh("podman", ["pod", "ls", "--format", "pod {{.Name}}"]))
      .trim()
      .split("\n")
      .filter((line) => line.includes(project)),
  ];
  const allVolumes = (await sh("podman", ["volume", "ls", "--format", "{{.Name}}"])).split("\n");
  for (const volume of allVolumes)
    if (volume.startsWith(`${project}_`) || volumes.includes(volume)) left.push(`volume ${volume}`);
  return [...new Set(left.filter(Boolean))];
}
