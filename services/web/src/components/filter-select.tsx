/**
 * A list's filter: "All", then one option per value (a task status, a job state …); picking
 * "All" clears it.
 */
export function FilterSelect<T extends string>(props: {
  label: string;
  value: T | undefined;
  values: readonly T[];
  labelOf: (value: T) => string;
  isValue: (text: string) => text is T;
  onChange: (value: T | undefined) => void;
}) {
  const { value, values, labelOf, isValue, onChange } = props;
  return (
    <label className="inline-field">
      {props.label}
      <select
        value={value ?? ""}
        onChange={(e) => onChange(isValue(e.target.value) ? e.target.value : undefined)}
      >
        <option value="">All</option>
        {values.map((v) => (
          <option key={v} value={v}>
            {labelOf(v)}
          </option>
        ))}
      </select>
    </label>
  );
}
