import { Link } from "react-router";
import { ApiProblem } from "../api/client.ts";

/** The API answered 403: the page is for operators (TASKFLOW_ADMIN_EMAILS), not this user. */
export function isForbidden(error: unknown): boolean {
  return error instanceof ApiProblem && error.status === 403;
}

/** In place of an operators' page for anyone else: `title` is "Analytics are for operators only". */
export function OperatorsOnly({ title }: { title: string }) {
  return (
    <div className="state state-forbidden" role="alert">
      <p>
        <strong>{title}.</strong> Operators are the accounts whose email is in
        TASKFLOW_ADMIN_EMAILS; ask one if you need this page.
      </p>
      <p>
        <Link to="/tasks">Go to your tasks</Link>
      </p>
    </div>
  );
}
