import { cloneElement, type ReactElement, type Ref, useId } from "react";

interface ControlProps {
  id?: string;
  "aria-invalid"?: boolean;
  "aria-describedby"?: string;
}

/**
 * A labelled form control with its hint and its error: the control gets the id the label
 * points at, `aria-invalid`, and `aria-describedby` naming the hint and the error, so a screen
 * reader reads what is wrong with the field as it is focused.
 */
export function FormField({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: string | undefined;
  error?: string | undefined;
  children: ReactElement<ControlProps>;
}) {
  const id = useId();
  const controlId = children.props.id ?? `${id}-control`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint ? hintId : undefined, error ? errorId : undefined]
    .filter(Boolean)
    .join(" ");
  return (
    <div className={error ? "field field-invalid" : "field"}>
      <label htmlFor={controlId}>{label}</label>
      {hint && (
        <p className="field-hint" id={hintId}>
          {hint}
        </p>
      )}
      {cloneElement(children, {
        id: controlId,
        "aria-invalid": error ? true : undefined,
        "aria-describedby": describedBy || undefined,
      })}
      {error && (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      )}
    </div>
  );
}

/**
 * The problems of a submitted form, at its top: announced at once (role="alert") and
 * focusable, so a keyboard user lands on it after a failed submit.
 */
export function FormErrors({
  messages,
  summaryRef,
}: {
  messages: readonly string[];
  summaryRef?: Ref<HTMLDivElement>;
}) {
  if (messages.length === 0) return null;
  return (
    <div className="form-errors" role="alert" tabIndex={-1} ref={summaryRef}>
      {messages.length === 1 ? (
        <p>{messages[0]}</p>
      ) : (
        <>
          <p>Please fix the following:</p>
          <ul>
            {messages.map((message) => (
              <li key={message}>{message}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
