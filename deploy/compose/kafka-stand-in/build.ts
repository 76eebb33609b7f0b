/**
 * Builds the local stand-in for the official apache/kafka image (see the Dockerfile beside this
 * file) and tags it with the name compose.yaml uses, so that compose.yaml runs unchanged on a
 * machine that cannot pull images. The jars are deploy/kafka/pom.xml's, fetched from Maven
 * Central once by `ensureKafkaLibs` (the cache `npm run kafka:start` uses).
 *
 *   npx tsx deploy/compose/kafka-stand-in/build.ts [IMAGE]     (default apache/kafka:<pom version>)
 *
 * An image built from the same files (this folder and the pom, by hash) is kept; FORCE=1 rebuilds.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ensureKafkaLibs, repoRoot } from "../../kafka/local-broker.ts";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const POM = path.join(repoRoot, "deploy/kafka/pom.xml");
const HASH_LABEL = "dev.taskflow.stand-in.hash";

/** The Kafka version deploy/kafka/pom.xml fetches (its `kafka.version` property). */
export function pomKafkaVersion(): string {
  const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(POM, "utf8"))?.[1];
  if (!version) throw new Error(`no <kafka.version> in ${POM}`);
  return version;
}

/** A hash of what the image is made of: this folder's files and the pom. */
function sourcesHash(): string {
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else hash.update(path.relative(here, file)).update(readFileSync(file));
    }
  };
  walk(here);
  hash.update(readFileSync(POM));
  return hash.digest("hex").slice(0, 16);
}

async function existingHash(image: string): Promise<string | undefined> {
  try {
    const { stdout } = await run("podman", [
      "image",
      "inspect",
      "--format",
      `{{index .Labels "${HASH_LABEL}"}}`,
      image,
    ]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Builds (unless an image of the same sources exists) and tags `image`. Resolves to whether it
 * built. Needs podman and, on the first run, Maven (for the jars) and Debian's packages.
 */
export async function buildKafkaStandIn(
  image = `docker.io/apache/kafka:${pomKafkaVersion()}`,
  options: { force?: boolean; log?: (message: string) => void } = {},
): Promise<boolean> {
  const log = options.log ?? (() => {});
  const hash = sourcesHash();
  if (!options.force && (await existingHash(image)) === hash) {
    log(`${image}: the stand-in is current`);
    return false;
  }
  const libs = await ensureKafkaLibs({ log });
  const context = mkdtempSync(path.join(tmpdir(), "kafka-stand-in-"));
  try {
    cpSync(here, context, { recursive: true, filter: (file) => !file.endsWith(".ts") });
    cpSync(libs, path.join(context, "libs"), {
      recursive: true,
      filter: (file) => !path.basename(file).startsWith("."),
    });
    log(`${image}: building the stand-in (Debian's OpenJDK 17, the pom's jars)`);
    await run(
      "podman",
      [
        "build",
        "--pull=never",
        "--network=host",
        "--label",
        `${HASH_LABEL}=${hash}`,
        "--tag",
        image,
        context,
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    return true;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = await buildKafkaStandIn(process.argv[2], {
    force: process.env.FORCE === "1",
    log: (message) => console.error(message),
  });
  console.log(built ? "built" : "current");
}
