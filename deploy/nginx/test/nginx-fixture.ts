import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { requireServices } from "@taskflow/testing";

/**
 * deploy/nginx/nginx.conf as tests run it: Debian's nginx, as the current user, from a
 * temporary folder (its configuration, pid, temporary files), on a port of the test's, in
 * front of API servers of the test's, serving a web root of the test's.
 */

export const NGINX_CONF = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../nginx.conf",
);

const NGINX_CANDIDATES = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"];
/** The MIME types the configuration includes (next to Debian's /etc/nginx/nginx.conf). */
const MIME_TYPES = "/etc/nginx/mime.types";

/** The nginx program, or undefined when it is not installed. */
export function findNginx(): string | undefined {
  return NGINX_CANDIDATES.find((candidate) => existsSync(candidate));
}

/**
 * The nginx program if the tests should run: undefined (skip) when nginx is not installed,
 * unless TASKFLOW_REQUIRE_SERVICES=1 (CI), where that is an error.
 */
export function nginxForTests(): string | undefined {
  const nginx = findNginx();
  if (!nginx && requireServices) {
    throw new Error(
      "nginx is required (TASKFLOW_REQUIRE_SERVICES=1) but is not installed: apt-get install -y nginx",
    );
  }
  return nginx;
}

export interface NginxOptions {
  /** Where nginx listens (127.0.0.1). */
  port: number;
  /** The API servers, `host:port` each. */
  upstreams: string[];
  /** The web app's folder (index.html, assets/). */
  root: string;
}

export interface RenderOptions extends NginxOptions {
  /** A folder of nginx's own for its temporary files (request bodies, proxied answers). */
  tempDir: string;
  /** Where its error.log and access.log go. */
  logDir: string;
}

/**
 * The configuration with the test's port, API servers and root instead of the deployment's
 * (port 80, api:8080, /usr/share/nginx/html), and log and temporary paths the current user
 * can write. Every replaced line must be there exactly once: a change to nginx.conf that
 * moves one fails here rather than testing something else.
 */
export function renderNginxConf(conf: string, options: RenderOptions): string {
  const temp = (name: string) => `"${path.join(options.tempDir, name)}"`;
  const replacements: [string, string][] = [
    ["worker_processes auto;", "worker_processes 1;"],
    [
      "error_log /var/log/nginx/error.log warn;",
      `error_log "${path.join(options.logDir, "error.log")}" info;`,
    ],
    [
      "access_log /var/log/nginx/access.log taskflow;",
      `access_log "${path.join(options.logDir, "access.log")}" taskflow;`,
    ],
    ["include mime.types;", `include "${MIME_TYPES}";`],
    ["listen 80;", `listen 127.0.0.1:${options.port};`],
    ["server api:8080;", options.upstreams.map((server) => `server ${server};`).join("\n    ")],
    ["root /usr/share/nginx/html;", `root "${options.root}";`],
    [
      "http {",
      [
        "http {",
        `  client_body_temp_path ${temp("body")};`,
        `  proxy_temp_path ${temp("proxy")};`,
        `  fastcgi_temp_path ${temp("fastcgi")};`,
        `  uwsgi_temp_path ${temp("uwsgi")};`,
        `  scgi_temp_path ${temp("scgi")};`,
      ].join("\n"),
    ],
  ];
  let rendered = conf;
  for (const [from, to] of replacements) {
    const count = rendered.split(from).length - 1;
    if (count !== 1)
      throw new Error(`nginx.conf: expected "${from}" once, found it ${count} times`);
    rendered = rendered.replace(from, () => to);
  }
  return rendered;
}

export interface NginxRun {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The rendered configuration file. */
  confFile: string;
  /** What nginx wrote: its error log and access log, then its own output. */
  output(): string;
  /** Stops nginx (SIGTERM: open event streams are cut) and removes its folder. */
  stop(): Promise<void>;
}

/** A folder for one nginx: its configuration (rendered from nginx.conf) and temporary files. */
function prepareNginx(options: NginxOptions): {
  dir: string;
  confFile: string;
  args: string[];
} {
  const dir = mkdtempSync(path.join(tmpdir(), "taskflow-nginx-"));
  // Started as root, the workers run as another user: they must reach their temporary files.
  chmodSync(dir, 0o755);
  const tempDir = path.join(dir, "temp");
  mkdirSync(tempDir, { mode: 0o755 });
  const confFile = path.join(dir, "nginx.conf");
  writeFileSync(
    confFile,
    renderNginxConf(readFileSync(NGINX_CONF, "utf8"), { ...options, tempDir, logDir: dir }),
  );
  const args = [
    "-p",
    dir,
    "-c",
    confFile,
    "-e",
    "stderr",
    "-g",
    // As root, the workers would run as nobody, who cannot read a checkout under a 0700 folder
    // (CI clones into `mktemp -d`): in tests they run as the user that started nginx.
    `daemon off; pid ${path.join(dir, "nginx.pid")};${process.getuid?.() === 0 ? " user root;" : ""}`,
  ];
  return { dir, confFile, args };
}

const run = promisify(execFile);

/** `nginx -t` on the rendered configuration: resolves with its report, rejects with it. */
export async function checkNginxConf(nginx: string, options: NginxOptions): Promise<string> {
  const { dir, args } = prepareNginx(options);
  try {
    const { stdout, stderr } = await run(nginx, ["-t", ...args], { timeout: 30_000 });
    return stdout + stderr;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`nginx -t failed:\n${stdout}${stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Starts nginx in the foreground on the rendered configuration; resolves once /healthz answers. */
export async function startNginx(nginx: string, options: NginxOptions): Promise<NginxRun> {
  const { dir, confFile, args } = prepareNginx(options);
  const child = spawn(nginx, args, { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let output = "";
  const keep = (chunk: string) => {
    output = (output + chunk).slice(-200_000);
  };
  child.stdout.setEncoding("utf8").on("data", keep);
  child.stderr.setEncoding("utf8").on("data", keep);
  const exited = new Promise<void>((resolve) => {
    child.once("close", () => {
      live.delete(child);
      resolve();
    });
    child.once("error", (error) => {
      keep(String(error));
      resolve();
    });
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const everything = () =>
    [
      ...["error.log", "access.log"]
        .map((name) => path.join(dir, name))
        .filter((file) => existsSync(file))
        .map((file) => `== ${path.basename(file)}\n${readFileSync(file, "utf8")}`),
      `== output\n${output}`,
    ].join("\n");
  const url = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    if (!gone) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (gone) {
      const said = everything();
      await stop();
      throw new Error(`nginx exited before it answered:\n${said}`);
    }
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) })
      .then((response) => response.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) {
      const said = everything();
      await stop();
      throw new Error(`nginx did not answer on ${url} within 15 s:\n${said}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, confFile, output: everything, stop };
}
