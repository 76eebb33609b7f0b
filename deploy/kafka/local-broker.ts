import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/**
 * A local single-node Apache Kafka broker (KRaft: broker and controller in one JVM) for
 * development, CI and fault tests. Its jars come from Maven Central through `pom.xml` beside
 * this file (fetched once by Maven, then cached); nothing else is downloaded. The broker runs
 * detached, so it outlives the command that started it; its pid, output and log directory stay
 * in `dataDir`, and a restart on the same `dataDir` keeps every topic, record and offset.
 *
 * `npm run kafka:start` / `kafka:stop` (local-broker.cli.ts) call these functions; tests call
 * them directly (e.g. SIGKILL the broker, then start it again).
 */

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const POM = path.join(repoRoot, "deploy/kafka/pom.xml");

export interface LocalKafkaOptions {
  /** Configuration, pid, output and log directory (`data/`). Default `<repo>/.taskflow/kafka`. */
  dataDir?: string;
  /** The PLAINTEXT listener on 127.0.0.1 (default 9092). */
  port?: number;
  /** The KRaft controller listener on 127.0.0.1 (default `port + 1`). */
  controllerPort?: number;
  /** Where the jars are cached, one folder per version of the pom. Default `<repo>/.taskflow/kafka-libs`. */
  libsDir?: string;
  /** Maximum JVM heap (default 512m). */
  heap?: string;
  /** How long to wait for the broker to answer a metadata request (default 120 s). */
  readyTimeoutMs?: number;
  /** Progress messages (the first run's download, formatting, waiting). */
  log?: (message: string) => void;
}

export interface LocalKafka {
  /** `host:port`, what clients bootstrap from. */
  bootstrap: string;
  /** The broker's pid; undefined if another broker already answered on the port. */
  pid: number | undefined;
  dataDir: string;
  logFile: string;
  /** False if this call started it. */
  alreadyRunning: boolean;
}

const HOST = "127.0.0.1";

function settings(options: LocalKafkaOptions) {
  const dataDir = path.resolve(options.dataDir ?? path.join(repoRoot, ".taskflow/kafka"));
  const port = options.port ?? 9092;
  return {
    dataDir,
    port,
    controllerPort: options.controllerPort ?? port + 1,
    libsDir: path.resolve(options.libsDir ?? path.join(repoRoot, ".taskflow/kafka-libs")),
    heap: options.heap ?? "512m",
    readyTimeoutMs: options.readyTimeoutMs ?? 120_000,
    log: options.log ?? (() => {}),
    pidFile: path.join(dataDir, "broker.pid"),
    logFile: path.join(dataDir, "broker.log"),
    serverProperties: path.join(dataDir, "server.properties"),
    log4jProperties: path.join(dataDir, "log4j2.properties"),
    logDirs: path.join(dataDir, "data"),
  };
}
type Settings = ReturnType<typeof settings>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the broker unless it is already running (then only waits until it answers), and
 * resolves once it answers a metadata request. Formats the log directory on first use only.
 */
export async function startLocalKafka(options: LocalKafkaOptions = {}): Promise<LocalKafka> {
  const s = settings(options);
  const bootstrap = `${HOST}:${s.port}`;
  const result = (pid: number | undefined, alreadyRunning: boolean): LocalKafka => ({
    bootstrap,
    pid,
    dataDir: s.dataDir,
    logFile: s.logFile,
    alreadyRunning,
  });

  const running = await runningPid(s);
  if (running !== undefined) {
    await waitUntilReady(s, running);
    return result(running, true);
  }
  if (await localKafkaUp(options)) {
    s.log(`a Kafka broker not started from ${s.dataDir} already answers at ${bootstrap}`);
    return result(undefined, true);
  }

  const java = await javaCommand();
  const libs = await ensureKafkaLibs(options);
  await fs.mkdir(s.logDirs, { recursive: true });
  await fs.writeFile(s.serverProperties, serverProperties(s));
  await fs.writeFile(s.log4jProperties, LOG4J_PROPERTIES);
  await rotateOutput(s.logFile);

  if (!existsSync(path.join(s.logDirs, "meta.properties"))) {
    s.log(`formatting a new KRaft log directory in ${s.logDirs}`);
    await promisify(execFile)(
      java,
      [
        ...jvmOptions("256m", s),
        "-cp",
        path.join(libs, "*"),
        "kafka.tools.StorageTool",
        "format",
        "--ignore-formatted",
        "-t",
        newClusterId(),
        "-c",
        s.serverProperties,
      ],
      { cwd: s.dataDir, maxBuffer: 16 * 1024 * 1024 },
    );
  }

  const output = await fs.open(s.logFile, "a");
  const child = spawn(
    java,
    [...jvmOptions(s.heap, s), "-cp", path.join(libs, "*"), "kafka.Kafka", s.serverProperties],
    { cwd: s.dataDir, detached: true, stdio: ["ignore", output.fd, output.fd] },
  );
  await output.close();
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${java}`);
  await fs.writeFile(s.pidFile, `${pid}\n`);
  s.log(`started the broker (pid ${pid}); waiting until ${bootstrap} answers`);
  try {
    await waitUntilReady(s, pid);
  } catch (error) {
    if (alive(pid)) process.kill(pid, "SIGKILL");
    await fs.rm(s.pidFile, { force: true });
    throw error;
  }
  return result(pid, false);
}

/**
 * Stops the broker started from `dataDir`: `signal` (SIGTERM: a clean shutdown), then SIGKILL
 * if it is still alive after `timeoutMs`. SIGKILL at once simulates a crash. Resolves false if
 * it was not running.
 */
export async function stopLocalKafka(
  options: LocalKafkaOptions & { signal?: "SIGTERM" | "SIGKILL"; timeoutMs?: number } = {},
): Promise<boolean> {
  const s = settings(options);
  const pid = await runningPid(s);
  if (pid === undefined) return false;
  process.kill(pid, options.signal ?? "SIGTERM");
  if (!(await exitedWithin(pid, options.timeoutMs ?? 30_000))) {
    s.log(`the broker (pid ${pid}) did not stop in time: SIGKILL`);
    process.kill(pid, "SIGKILL");
    await exitedWithin(pid, 10_000);
  }
  await fs.rm(s.pidFile, { force: true });
  return true;
}

/** Whether a broker answers a metadata request on `port` (whoever started it). */
export async function localKafkaUp(options: LocalKafkaOptions = {}): Promise<boolean> {
  const { port } = settings(options);
  try {
    return (await metadataBrokers(HOST, port)).length > 0;
  } catch {
    return false;
  }
}

/**
 * The folder of the broker's jars, fetched from Maven Central by `mvn dependency:copy-dependencies`
 * on first use. Keyed by the pom's hash, so editing the pom (a new Kafka version) fetches again.
 */
export async function ensureKafkaLibs(options: LocalKafkaOptions = {}): Promise<string> {
  const s = settings(options);
  const pom = await fs.readFile(POM);
  const dir = path.join(s.libsDir, createHash("sha256").update(pom).digest("hex").slice(0, 12));
  if (existsSync(path.join(dir, ".complete"))) return dir;
  s.log("fetching Kafka's jars from Maven Central (first run only)");
  const staging = `${dir}.partial-${process.pid}`;
  await fs.rm(staging, { recursive: true, force: true });
  try {
    await promisify(execFile)(
      "mvn",
      [
        "-q",
        "-B",
        "-f",
        POM,
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        `-DoutputDirectory=${staging}`,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    const e = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === "ENOENT") throw new Error("Maven (mvn) is needed to fetch Kafka's jars");
    throw new Error(`mvn could not fetch Kafka's jars:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
  await fs.writeFile(path.join(staging, ".complete"), "");
  if (existsSync(path.join(dir, ".complete"))) {
    // Another start fetched them meanwhile.
    await fs.rm(staging, { recursive: true, force: true });
  } else {
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(staging, dir);
  }
  return dir;
}

function serverProperties(s: Settings): string {
  return `# Written by deploy/kafka/local-broker.ts at every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${s.controllerPort}
listeners=PLAINTEXT://${HOST}:${s.port},CONTROLLER://${HOST}:${s.controllerPort}
advertised.listeners=PLAINTEXT://${HOST}:${s.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${s.logDirs}
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
# A SIGKILLed broker's registration blocks its restart until this session expires (default 9 s).
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
# Two cores: fewer threads than the defaults.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=2
background.threads=4
`;
}

/** Everything goes to stdout, i.e. broker.log; the configuration dumps and state changes only at WARN. */
const LOG4J_PROPERTIES = `status = warn
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
`;

function jvmOptions(heap: string, s: Settings): string[] {
  return [
    `-Xmx${heap}`,
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${s.log4jProperties}`,
  ];
}

async function javaCommand(): Promise<string> {
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, "bin/java") : "java";
  let banner: string;
  try {
    banner = (await promisify(execFile)(java, ["-version"])).stderr;
  } catch {
    throw new Error("Java 17 or newer is needed to run Kafka (no `java` found)");
  }
  const major = Number(/version "(\d+)/.exec(banner)?.[1]);
  if (!(major >= 17)) throw new Error(`Kafka 4 needs Java 17 or newer; found: ${banner.trim()}`);
  return java;
}

/** A Kafka cluster id: 16 random bytes, base64url without padding, not starting with "-". */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/** Keeps one previous output file once it passes 20 MB. */
async function rotateOutput(logFile: string) {
  const size = await fs.stat(logFile).then(
    (stat) => stat.size,
    () => 0,
  );
  if (size > 20 * 1024 * 1024) await fs.rename(logFile, `${logFile}.1`);
}

/** The pid in the pid file if that process is alive and is this data dir's broker. */
async function runningPid(s: Settings): Promise<number | undefined> {
  const pid = Number((await fs.readFile(s.pidFile, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (alive(pid) && isOurBroker(pid, s)) return pid;
  await fs.rm(s.pidFile, { force: true });
  return undefined;
}

function isOurBroker(pid: number, s: Settings): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.includes("kafka.Kafka") && cmdline.includes(s.serverProperties);
  } catch {
    return true; // no /proc (macOS): trust the pid file
  }
}

/** Alive and not a zombie (a SIGKILLed child not yet reaped by its parent). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

async function exitedWithin(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

async function waitUntilReady(s: Settings, pid: number) {
  const deadline = Date.now() + s.readyTimeoutMs;
  for (;;) {
    if (!alive(pid)) {
      throw new Error(
        `the Kafka broker (pid ${pid}) exited before it answered; the end of ${s.logFile}:\n${await tail(s.logFile)}`,
      );
    }
    try {
      if ((await metadataBrokers(HOST, s.port)).length > 0) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the Kafka broker (pid ${pid}) did not answer on ${HOST}:${s.port} within ${s.readyTimeoutMs} ms; the end of ${s.logFile}:\n${await tail(s.logFile)}`,
      );
    }
    await sleep(250);
  }
}

async function tail(file: string, bytes = 4_000): Promise<string> {
  const text = await fs.readFile(file, "utf8").catch(() => "");
  return text.length > bytes ? `…${text.slice(-bytes)}` : text;
}

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

/**
 * Sends one Metadata request (v4, the oldest Kafka 4 accepts; no topics) and returns the brokers
 * it lists. Written out by hand so that starting the broker needs nothing but Node.
 */
export function metadataBrokers(
  host: string,
  port: number,
  timeoutMs = 2_000,
): Promise<BrokerAddress[]> {
  const clientId = Buffer.from("taskflow-local-broker");
  const request = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let o = request.writeInt32BE(request.length - 4, 0);
  o = request.writeInt16BE(3, o); // api key: Metadata
  o = request.writeInt16BE(4, o); // api version
  o = request.writeInt32BE(1, o); // correlation id
  o = request.writeInt16BE(clientId.length, o);
  o += clientId.copy(request, o);
  o = request.writeInt32BE(0, o); // topics: none
  request.writeInt8(0, o); // allow_auto_topic_creation: false

  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    let received = 0;
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no answer from ${host}:${port}`)));
    socket.once("error", fail);
    socket.once("connect", () => socket.write(request));
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      received += chunk.length;
      const data = Buffer.concat(chunks, received);
      if (data.length < 4 || data.length < 4 + data.readInt32BE(0)) return;
      socket.destroy();
      try {
        resolve(parseMetadataBrokers(data));
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

function parseMetadataBrokers(data: Buffer): BrokerAddress[] {
  // size, correlation id, throttle time, then the brokers array.
  let o = 12;
  const count = data.readInt32BE(o);
  o += 4;
  const brokers: BrokerAddress[] = [];
  for (let i = 0; i < count; i++) {
    const nodeId = data.readInt32BE(o);
    const hostLength = data.readInt16BE(o + 4);
    const host = data.toString("utf8", o + 6, o + 6 + hostLength);
    o += 6 + hostLength;
    const port = data.readInt32BE(o);
    const rackLength = data.readInt16BE(o + 4);
    o += 6 + Math.max(rackLength, 0);
    brokers.push({ nodeId, host, port });
  }
  return brokers;
}
