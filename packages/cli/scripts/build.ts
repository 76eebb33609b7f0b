/**
 * `npm run build`: the taskflow program as an ES module, packages/cli/dist/taskflow.mjs, with
 * chunks beside it for what is imported on first use — each engine adapter (Kafka, NATS,
 * Redis, SMTP) and each role's service — so a process loads only the engine clients it is
 * configured for and the services it runs. Our workspace packages are bundled in; npm
 * dependencies stay imports of node_modules.
 * Development and tests run the TypeScript sources through tsx (bin/taskflow.js); the bundle
 * is what containers and the benchmark run: no compiler in the process, ~70 MB less memory.
 */
import { rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const distDir = path.join(cliDir, "dist");

/** Every bare import except `@taskflow/…` is left to Node to resolve at run time. */
const npmDependenciesExternal: Plugin = {
  name: "npm-dependencies-external",
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("@taskflow/") ? undefined : { path: args.path, external: true },
    );
  },
};

/**
 * Bundles into `outdir` (emptied first) and returns the entry's path. The end-to-end tests
 * bundle into folders of their own (packages/testing/src/bundle.ts) with these same options.
 */
export async function buildBundle(outdir = distDir): Promise<string> {
  // Chunk names carry a hash: yesterday's chunks would pile up.
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { taskflow: path.join(cliDir, "src/run.ts") },
    outdir,
    outExtension: { ".js": ".mjs" },
    // Beside the entry, not in a folder: modules that find files from import.meta.url
    // (templates, the .proto files) resolve them the same from any chunk.
    chunkNames: "[name]-[hash]",
    splitting: true,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    plugins: [npmDependenciesExternal],
    logLevel: "warning",
  });
  return path.join(outdir, "taskflow.mjs");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`built ${path.relative(process.cwd(), await buildBundle())}`);
}
