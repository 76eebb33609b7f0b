import { cleanup, configure } from "@testing-library/react";
import { afterEach, vi } from "vitest";
import { sessionStore } from "../session/session-store.ts";

// The machine is shared with engines and other test files: give async queries time.
configure({ asyncUtilTimeout: 10_000 });

// Vitest runs without globals, so Testing Library cannot register its own cleanup.
afterEach(() => {
  cleanup();
  sessionStore.reset();
  // The carts (taskflow.cart.<user>) and anything else a page kept for the tab.
  globalThis.sessionStorage?.clear();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});
