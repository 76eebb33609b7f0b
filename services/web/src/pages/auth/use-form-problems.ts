import { useCallback, useEffect, useRef, useState } from "react";

/**
 * A form's errors: per field and for the whole form. After a failed submit, focus goes to the
 * error summary (when there is one) or to the first invalid field.
 */
export function useFormProblems<Field extends string>() {
  const [fields, setFields] = useState<Partial<Record<Field, string>>>({});
  const [summary, setSummary] = useState<string[]>([]);
  const [attempt, setAttempt] = useState(0);
  const summaryRef = useRef<HTMLDivElement>(null);
  const formRef = useRef<HTMLFormElement>(null);

  // After each failed submit.
  useEffect(() => {
    if (attempt === 0) return;
    if (summaryRef.current) summaryRef.current.focus();
    else formRef.current?.querySelector<HTMLElement>("[aria-invalid='true']")?.focus();
  }, [attempt]);

  const report = useCallback(
    (next: { fields?: Partial<Record<Field, string>>; summary?: string[] }) => {
      setFields(next.fields ?? {});
      setSummary(next.summary ?? []);
      setAttempt((n) => n + 1);
    },
    [],
  );
  const clear = useCallback(() => {
    setFields({});
    setSummary([]);
  }, []);
  const clearField = useCallback((field: Field) => {
    setFields((current) => {
      if (!current[field]) return current;
      const { [field]: _, ...rest } = current;
      return rest as Partial<Record<Field, string>>;
    });
  }, []);

  return { fields, summary, summaryRef, formRef, report, clear, clearField };
}
