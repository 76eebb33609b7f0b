/**
 * Put first in a statement (`sql\`${sql.raw(PREPARED)} SELECT …\``) to have PostgreSQL parse
 * and plan it once per connection (a named prepared statement) instead of on every call.
 * Only for statements whose text does not vary with their input — arrays, not lists of
 * parameters — or each connection would keep one prepared statement per variant. PGlite
 * reads it as the comment it is.
 */
export const PREPARED = "/* prepared */";
