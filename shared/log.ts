export type Log = (event: Record<string, unknown>) => void;

/** One JSON line per event; errors on stderr so Lambda's JSON log format marks them ERROR. */
export const jsonLog: Log = (event) => {
  (event.level === "error" ? console.error : console.log)(JSON.stringify(event));
};
