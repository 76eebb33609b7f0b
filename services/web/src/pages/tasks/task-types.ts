/**
 * The built-in task types (services/worker/src/handlers) with a sample payload each. The API
 * has no route that lists the types; an unknown one is refused with a 422 naming the known
 * ones, which the form shows.
 */
export interface TaskTypeOption {
  type: string;
  description: string;
  samplePayload: string;
}

export const TASK_TYPES: readonly TaskTypeOption[] = [
  {
    type: "sleep",
    description: "Waits for `ms` milliseconds (at most 600000).",
    samplePayload: '{ "ms": 1000 }',
  },
  {
    type: "echo",
    description: "Returns its payload as the result.",
    samplePayload: '{ "message": "hello" }',
  },
  {
    type: "fail",
    description: "Fails its first `times` attempts, then succeeds: shows retries and failures.",
    samplePayload: '{ "times": 1 }',
  },
  {
    type: "hash",
    description: "CPU work: hashes `input` for `rounds` rounds.",
    samplePayload: '{ "rounds": 100000 }',
  },
];
