#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so `npx taskflow` works right after `npm install`
// with no build step. `npm run build` makes the same program one plain module
// (packages/cli/dist/taskflow.mjs) for containers and benchmarks.
import { register } from "tsx/esm/api";

register();
await import("../src/run.ts");
