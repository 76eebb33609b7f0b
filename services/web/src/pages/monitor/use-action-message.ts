import { useCallback, useState } from "react";
import { describeProblem } from "../../api/client.ts";
import type { ActionOutcome } from "../../components/action-message.tsx";

/**
 * The monitor's actions (retry, requeue, purge): which items are being acted on (their
 * buttons disabled) and one message about the last outcome, for a live region.
 */
export function useActionMessage() {
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [message, setMessage] = useState<ActionOutcome>();

  /** Runs `action` for `key`; says `success` (or what failed, after `failure`); true if it worked. */
  const run = useCallback(
    async <T>(
      key: string,
      success: string | ((result: T) => string),
      failure: string,
      action: () => Promise<T>,
    ): Promise<boolean> => {
      setBusy((b) => new Set(b).add(key));
      setMessage(undefined);
      try {
        const result = await action();
        setMessage({
          kind: "success",
          text: typeof success === "function" ? success(result) : success,
        });
        return true;
      } catch (error) {
        setMessage({ kind: "error", text: `${failure}: ${describeProblem(error)}` });
        return false;
      } finally {
        setBusy((b) => {
          const next = new Set(b);
          next.delete(key);
          return next;
        });
      }
    },
    [],
  );

  return { busy, message, run, setMessage };
}
