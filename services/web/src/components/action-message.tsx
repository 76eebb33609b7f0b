import type { ReactNode } from "react";

/** The outcome of the last action on a page (retry, cancel, purge, mark as read …). */
export interface ActionOutcome {
  kind: "success" | "error";
  text: string;
}

/**
 * One live region for the outcome of the last action: polite for a success, an alert for an
 * error (or when `alert` says so). Always rendered, so screen readers hear every change.
 */
export function ActionMessage(props: {
  message: ActionOutcome | undefined;
  alert?: boolean;
  children?: ReactNode;
}) {
  const { message } = props;
  const alert = message?.kind === "error" || props.alert === true;
  return (
    <p className={`action-message ${message?.kind ?? ""}`} role={alert ? "alert" : "status"}>
      {message?.text}
      {props.children}
    </p>
  );
}
