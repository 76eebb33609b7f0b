import {
  type KeyboardEvent,
  type ReactNode,
  type RefObject,
  useEffect,
  useId,
  useRef,
} from "react";

/**
 * A modal dialog named by its title. Focus starts on `initialFocus` (else the first control),
 * Tab stays inside, Escape dismisses (unless `busy`), and focus goes back to where it was (or
 * to the page, when that element is gone) when it closes.
 */
export function Dialog({
  title,
  role = "dialog",
  describedBy,
  busy = false,
  initialFocus,
  onDismiss,
  children,
}: {
  title: string;
  role?: "dialog" | "alertdialog";
  describedBy?: string;
  busy?: boolean;
  initialFocus?: RefObject<HTMLElement | null>;
  onDismiss: () => void;
  children: ReactNode;
}) {
  const titleId = useId();
  const dialog = useRef<HTMLDialogElement>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: once, as the dialog opens.
  useEffect(() => {
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const first = dialog.current?.querySelector<HTMLElement>(FOCUSABLE);
    (initialFocus?.current ?? first)?.focus();
    return () => {
      // The element that opened the dialog may be gone (the row it acted on).
      if (before?.isConnected) before.focus();
      else document.getElementById("main")?.focus();
    };
  }, []);

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      if (!busy) onDismiss();
      return;
    }
    if (event.key !== "Tab" || !dialog.current) return;
    const focusable = [...dialog.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
    const first = focusable[0];
    const last = focusable.at(-1);
    if (!first || !last) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };

  return (
    <div className="dialog-backdrop">
      {/* Open, not showModal(): the backdrop, focus trap and Escape are this component's. */}
      <dialog
        open
        ref={dialog}
        className="dialog"
        {...(role === "alertdialog" ? { role: "alertdialog" } : {})}
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={describedBy}
        onKeyDown={onKeyDown}
      >
        <h2 id={titleId}>{title}</h2>
        {children}
      </dialog>
    </div>
  );
}

const FOCUSABLE =
  "button:not(:disabled), [href], input:not(:disabled), textarea:not(:disabled), select:not(:disabled)";

/**
 * Asks before an action that cannot be undone (an `alertdialog`): its text says what will
 * happen, the confirming button says what it does ("Purge"), and focus starts on "Cancel".
 */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  busyLabel = "Working…",
  busy = false,
  onConfirm,
  onCancel,
}: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  busyLabel?: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const textId = useId();
  const cancel = useRef<HTMLButtonElement>(null);
  return (
    <Dialog
      title={title}
      role="alertdialog"
      describedBy={textId}
      busy={busy}
      initialFocus={cancel}
      onDismiss={onCancel}
    >
      <div id={textId} className="dialog-text">
        {children}
      </div>
      <div className="button-row dialog-actions">
        <button
          type="button"
          className="button button-danger"
          onClick={onConfirm}
          disabled={busy}
          aria-busy={busy}
        >
          {busy ? busyLabel : confirmLabel}
        </button>
        <button ref={cancel} type="button" className="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
