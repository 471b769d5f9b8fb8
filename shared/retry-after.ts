/**
 * How long a server asked the caller to wait, from an HTTP reply's headers: `retry-after-ms`,
 * `x-ms-retry-after-ms` (Azure), then `Retry-After` in seconds or as an HTTP date. Shared by the
 * upstream adapter and the webhook sender, which both honour it; null when no header says.
 */
export function retryAfterMs(headers: Headers | undefined | null, nowMs: number = Date.now()): number | null {
  if (!headers) return null;
  for (const name of ["retry-after-ms", "x-ms-retry-after-ms"]) {
    const value = Number(headers.get(name));
    if (headers.get(name) !== null && Number.isFinite(value) && value >= 0) return value;
  }
  const header = headers.get("retry-after");
  if (header === null) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}
