export type Log = (event: Record<string, unknown>) => void;

/** Longest string a log line carries in one field: paths, bodies and messages come from callers. */
export const MAX_LOG_STRING = 1000;

/** Cuts a long string to its start and says how much was left out. */
function bounded(_key: string, value: unknown): unknown {
  return typeof value === "string" && value.length > MAX_LOG_STRING
    ? `${value.slice(0, MAX_LOG_STRING)}… (${value.length - MAX_LOG_STRING} more characters)`
    : value;
}

/** One JSON line per event; errors on stderr so Lambda's JSON log format marks them ERROR. */
export const jsonLog: Log = (event) => {
  (event.level === "error" ? console.error : console.log)(JSON.stringify(event, bounded));
};
