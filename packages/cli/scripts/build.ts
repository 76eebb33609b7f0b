/**
 * `npm run build`: the taskflow program as one ES module, packages/cli/dist/taskflow.mjs.
 * Our workspace packages are bundled in; npm dependencies stay imports of node_modules.
 * Development and tests run the TypeScript sources through tsx (bin/taskflow.js); the bundle
 * is what containers and the benchmark run: no compiler in the process, ~70 MB less memory.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const bundlePath = path.join(cliDir, "dist/taskflow.mjs");

/** Every bare import except `@taskflow/…` is left to Node to resolve at run time. */
const npmDependenciesExternal: Plugin = {
  name: "npm-dependencies-external",
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("@taskflow/") ? undefined : { path: args.path, external: true },
    );
  },
};

export async function buildBundle(): Promise<string> {
  await build({
    entryPoints: [path.join(cliDir, "src/run.ts")],
    outfile: bundlePath,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    plugins: [npmDependenciesExternal],
    logLevel: "warning",
  });
  return bundlePath;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`built ${path.relative(process.cwd(), await buildBundle())}`);
}
