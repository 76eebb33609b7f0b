// The dependency manifests of the repository at SRC, written to OUT: the lockfile, .npmrc, and
// each package.json (the root's and every workspace's) reduced to what `npm ci` reads. The
// Dockerfile's `manifests` stage runs this on the whole build context: when only sources,
// scripts or exports change, OUT is byte for byte the same, the next stage's
// `COPY --from=manifests` is a cache hit, and node_modules is not installed again (the idea of
// `turbo prune --docker`).
//   node deploy/docker/manifests.mjs SRC OUT
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";

const [src, out] = process.argv.slice(2);
if (!src || !out) throw new Error("usage: node manifests.mjs SRC OUT");

const KEPT = [
  "name",
  "version",
  "private",
  "workspaces",
  "dependencies",
  "devDependencies",
  "optionalDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
  "bundleDependencies",
  "overrides",
  "bin",
  "engines",
  "os",
  "cpu",
];

function writeManifest(dir) {
  const pkg = JSON.parse(readFileSync(path.join(src, dir, "package.json"), "utf8"));
  const kept = Object.fromEntries(KEPT.filter((key) => key in pkg).map((key) => [key, pkg[key]]));
  mkdirSync(path.join(out, dir), { recursive: true });
  writeFileSync(path.join(out, dir, "package.json"), `${JSON.stringify(kept, null, 2)}\n`);
  return pkg;
}

const root = writeManifest(".");
for (const file of ["package-lock.json", ".npmrc"]) {
  if (existsSync(path.join(src, file))) copyFileSync(path.join(src, file), path.join(out, file));
}
const workspaces = Array.isArray(root.workspaces)
  ? root.workspaces
  : (root.workspaces?.packages ?? []);
for (const pattern of workspaces) {
  const dirs = pattern.endsWith("/*")
    ? readdirSync(path.join(src, pattern.slice(0, -2)), { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => path.join(pattern.slice(0, -2), entry.name))
    : [pattern];
  for (const dir of dirs.sort()) {
    if (existsSync(path.join(src, dir, "package.json"))) writeManifest(dir);
  }
}
