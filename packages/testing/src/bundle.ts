import { rm } from "node:fs/promises";
import path from "node:path";
import { buildBundle } from "../../cli/scripts/build.ts";
import { uniqueName } from "./index.ts";
import { repoRoot, useTaskflowProgram } from "./processes.ts";

/**
 * Bundles the CLI from the current sources with packages/cli/scripts/build.ts (npm
 * dependencies left to node_modules, a chunk per engine adapter) into a folder of the run's
 * own under node_modules/.cache (`npm run build` empties packages/cli/dist, which other tests
 * and the benchmarks use), and makes every `taskflow` child of the calling test file run it: a
 * role starts on about half the CPU of tsx over the sources. Resolves to the undo.
 */
export async function freshTaskflowBundle(prefix = "bundle"): Promise<() => Promise<void>> {
  const outdir = path.join(repoRoot, "node_modules/.cache/taskflow-e2e", uniqueName(prefix));
  useTaskflowProgram(await buildBundle(outdir));
  return async () => {
    useTaskflowProgram(undefined);
    await rm(outdir, { recursive: true, force: true });
  };
}
