import { useCallback, useState } from "react";
import { describeProblem, type Task } from "../../api/client.ts";
import type { ActionOutcome } from "../../components/action-message.tsx";
import { tasksApi } from "./tasks.api.ts";

/**
 * Cancel and retry, with the tasks being acted on (their buttons disabled) and one message
 * about the last outcome, for a live region.
 */
export function useTaskActions(onChanged: (task: Task) => void) {
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [message, setMessage] = useState<ActionOutcome>();

  const run = useCallback(
    async (task: Task, verb: string, action: () => Promise<Task>) => {
      const name = task.title ?? task.type;
      setBusy((b) => new Set(b).add(task.id));
      setMessage(undefined);
      try {
        onChanged(await action());
        setMessage({ kind: "success", text: `Task “${name}” ${verb}.` });
      } catch (error) {
        setMessage({
          kind: "error",
          text: `Task “${name}” was not ${verb}: ${describeProblem(error)}`,
        });
      } finally {
        setBusy((b) => {
          const next = new Set(b);
          next.delete(task.id);
          return next;
        });
      }
    },
    [onChanged],
  );

  const cancel = useCallback(
    (task: Task) => run(task, "cancelled", () => tasksApi.cancel(task.id)),
    [run],
  );
  const retry = useCallback(
    (task: Task) =>
      run(task, "queued again", async () => {
        await tasksApi.retry(task.id);
        return tasksApi.get(task.id);
      }),
    [run],
  );

  return { busy, message, cancel, retry };
}
