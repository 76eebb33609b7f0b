import type { TaskStats, TaskStatus } from "../../api/client.ts";
import { statusLabel, TASK_STATUSES } from "./task-status.tsx";

/**
 * The caller's tasks by status. Each count is also a filter button (pressed while it is the
 * filter); "All" clears it.
 */
export function TaskCounts({
  stats,
  filter,
  onFilter,
}: {
  stats: TaskStats;
  filter: TaskStatus | undefined;
  onFilter: (status: TaskStatus | undefined) => void;
}) {
  const total = TASK_STATUSES.reduce((sum, status) => sum + stats[status], 0);
  return (
    <ul className="counts" aria-label="Tasks by status">
      <li>
        <button
          type="button"
          className="count"
          aria-pressed={filter === undefined}
          onClick={() => onFilter(undefined)}
        >
          <span className="count-label">All</span>
          <span className="count-value">{total}</span>
        </button>
      </li>
      {TASK_STATUSES.map((status) => (
        <li key={status}>
          <button
            type="button"
            className={`count count-${status.toLowerCase()}`}
            aria-pressed={filter === status}
            onClick={() => onFilter(filter === status ? undefined : status)}
          >
            <span className="count-label">{statusLabel(status)}</span>
            <span className="count-value" data-testid={`count-${status}`}>
              {stats[status]}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}
