#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so `npx taskflow` works right after `npm install`
// with no build step; the same sources are what tests and containers run.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/main.ts");
await main(process.argv.slice(2));
