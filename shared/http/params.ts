import { isJobIdShaped } from "#shared/domain/job.ts";
import { InvalidRequestError, NotFoundError } from "#shared/errors.ts";

/**
 * Path and query parameters, checked for format and length before anything reaches DynamoDB
 * (whose keys stop at 2048 bytes: a longer id would fail there as a server error, not a 404).
 */

/** At most this much of a caller's value is echoed in a message. */
const ECHO_CHARS = 64;

/** A caller's value as quoted back in an error message: never the whole of a huge one. */
export function echo(value: string): string {
  return value.length <= ECHO_CHARS ? value : `${value.slice(0, ECHO_CHARS)}…`;
}

/** A malformed id names no job, so it is answered exactly as a missing one (404), without a lookup. */
export function jobIdParam(raw: string): string {
  if (!isJobIdShaped(raw))
    throw new NotFoundError(`Response with id '${echo(raw)}' not found.`, { param: "response_id" });
  return raw;
}

/** `after=`: a job id, or absent. Malformed is the caller's mistake (400), as OpenAI answers a bad cursor. */
export function afterParam(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!isJobIdShaped(raw))
    throw new InvalidRequestError(`Invalid 'after': '${echo(raw)}' is not a response id.`, {
      param: "after",
      code: "invalid_value",
    });
  return raw;
}

/**
 * A decimal integer written plainly: digits only, no sign, exponent, hex, blanks or leading
 * zeros (`Number()` would take `1e1`, `0x10` and ` 5`).
 */
function strictInteger(raw: string, param: string, min: number, max: number): number {
  const value = /^(?:0|[1-9]\d{0,14})$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max))
    throw new InvalidRequestError(
      `Invalid '${param}': expected an integer from ${min} to ${max}, got '${echo(raw)}'.`,
      {
        param,
        code: "invalid_value",
      },
    );
  return value;
}

/** `limit=` of a list: 1 to 100, 20 when absent. */
export function limitParam(raw: string | undefined): number {
  return raw === undefined ? 20 : strictInteger(raw, "limit", 1, 100);
}
