/**
 * The V8 flags every TaskFlow process runs with, wherever it is launched: the container
 * image's ENTRYPOINT (deploy/docker/Dockerfile), `npm start`, and the benchmarks, which start
 * the roles the way an operator does. deploy/docker/test/dockerfile.test.ts checks that the
 * first two say the same.
 *
 * --max-semi-space-size=4: V8 sizes the young generation from the machine's memory, 16 MB per
 * semi-space (32 MB resident) on a 24 GiB host, for processes whose young objects are a few
 * requests' worth. 4 MB took 25 MB off every role's RSS (api peak 174–229 → 151–156 MB, relay
 * and worker 126–133 → 97–110 MB, `npm run bench`, c = 32 and 64 after a warm-up) at the same
 * throughput and latency. Node reads it only at start-up: `v8.setFlagsFromString` at run time
 * does not resize a heap that exists.
 */
export const NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4"];
