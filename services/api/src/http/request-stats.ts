import type { Server } from "node:http";
import type { ProcessStats } from "@taskflow/db";

/**
 * Counts an HTTP server's requests, for the api role's heartbeat: in flight (received, not
 * yet answered or abandoned: an open event stream is one), processed (ended since the start)
 * and failed (of those, answered 5xx). Counted on the Node server, so every request is, even
 * one that never reaches a route (an unparseable URL, a body over the limit).
 */
export function countRequests(server: Server): { readonly stats: ProcessStats } {
  const stats: ProcessStats = { inFlight: 0, processed: 0, failed: 0 };
  server.on("request", (_request, response) => {
    stats.inFlight++;
    // "close" comes once per response: after it was sent, or when the client went away.
    response.once("close", () => {
      stats.inFlight--;
      stats.processed++;
      if (response.statusCode >= 500) stats.failed++;
    });
  });
  return {
    get stats() {
      return { ...stats };
    },
  };
}
