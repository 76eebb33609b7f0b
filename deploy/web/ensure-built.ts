import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `npm start` runs this before `taskflow start`: it builds the web app (services/web →
 * services/web/dist, which the API serves at /) when that build is missing or older than
 * any of its sources, so a fresh clone serves a current app. A failed build stops `npm start`
 * (exit status non-zero) with what to do; `npx taskflow start` runs without the app.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const webDir = path.join(repoRoot, "services/web");
const builtIndex = path.join(webDir, "dist/index.html");

/** Not sources: the build itself, installed packages, dotfiles (caches, editors' files). */
const SKIPPED = new Set(["dist", "node_modules"]);

/** The latest modification time (ms) of any file under `dir`, skipped folders aside. */
function newestChange(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || SKIPPED.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(
      newest,
      entry.isDirectory() ? newestChange(full) : entry.isFile() ? statSync(full).mtimeMs : 0,
    );
  }
  return newest;
}

function fail(message: string): never {
  console.error(`\nnpm start: ${message}\n`);
  process.exit(1);
}

if (!existsSync(path.join(webDir, "package.json"))) {
  fail(`there is no web app at ${path.relative(repoRoot, webDir)} (no package.json)`);
}

const builtAt = existsSync(builtIndex) ? statSync(builtIndex).mtimeMs : undefined;
if (builtAt !== undefined && builtAt >= newestChange(webDir)) {
  console.error("web app: services/web/dist is up to date");
} else {
  console.error(
    builtAt === undefined
      ? "web app: services/web/dist is missing; building it (npm run build -w @taskflow/web)"
      : "web app: services/web changed since its build; rebuilding (npm run build -w @taskflow/web)",
  );
  const build = spawnSync("npm", ["run", "build", "-w", "@taskflow/web"], {
    cwd: repoRoot,
    stdio: "inherit",
  });
  if (build.error) fail(`could not run npm to build the web app: ${build.error.message}`);
  if (build.status !== 0) {
    fail(
      `the web app did not build (\`npm run build -w @taskflow/web\` exited with ${build.status ?? build.signal}; its output is above).\n` +
        "Fix services/web and run `npm start` again, or run the API without the app: `npx taskflow start`.",
    );
  }
  if (!existsSync(builtIndex)) {
    fail("the web app's build finished but wrote no services/web/dist/index.html");
  }
}
