import type { RelayStackProps, Stage } from "./relay-stack.ts";

export type RelayContext = Pick<
  RelayStackProps,
  "stage" | "retain" | "alarmEmail" | "openaiBaseUrl" | "publicUrl" | "pollerReservedConcurrency" | "streamCorsOrigins"
>;

export class ContextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContextError";
  }
}

const STAGES: readonly Stage[] = ["dev", "prod"];

/**
 * Reads and validates the CDK context (`-c key=value` or cdk.json) once, in the composition root.
 * Values from `-c` arrive as strings, from cdk.json as JSON; both are accepted.
 *
 * - `stage`: dev | prod (default dev, so a bare `cdk deploy` never touches prod)
 * - `retain`: true | false (default: true for prod, false for dev)
 * - `alarmEmail`: subscribed to the alarm topic (optional)
 * - `openaiBaseUrl`: upstream base URL, e.g. Azure's `https://RESOURCE.openai.azure.com/openai/v1` (optional)
 * - `publicUrl`: the URL callers use, when a custom domain fronts the API (optional)
 * - `pollerReservedConcurrency`: reserve concurrency for the poller, 1-10 (optional; needs quota)
 * - `streamCorsOrigins`: comma-separated https origins allowed to call the stream URL (optional)
 */
export function parseRelayContext(get: (key: string) => unknown): RelayContext {
  const stage = text(get, "stage") ?? "dev";
  if (!STAGES.includes(stage as Stage))
    throw new ContextError(`Context "stage" must be one of ${STAGES.join(", ")}; got "${stage}".`);

  const retainRaw = get("retain");
  let retain: boolean;
  if (retainRaw === undefined) retain = stage === "prod";
  else if (retainRaw === true || retainRaw === "true") retain = true;
  else if (retainRaw === false || retainRaw === "false") retain = false;
  else throw new ContextError(`Context "retain" must be true or false; got "${String(retainRaw)}".`);

  const alarmEmail = text(get, "alarmEmail");
  if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail))
    throw new ContextError(`Context "alarmEmail" is not an email address: "${alarmEmail}".`);

  const reservedRaw = get("pollerReservedConcurrency");
  let pollerReservedConcurrency: number | undefined;
  if (reservedRaw !== undefined && reservedRaw !== "") {
    pollerReservedConcurrency = Number(reservedRaw);
    if (!Number.isInteger(pollerReservedConcurrency) || pollerReservedConcurrency < 1 || pollerReservedConcurrency > 10)
      throw new ContextError(
        `Context "pollerReservedConcurrency" must be an integer from 1 to 10; got "${String(reservedRaw)}".`,
      );
  }

  const origins = text(get, "streamCorsOrigins");
  const streamCorsOrigins = origins
    ?.split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of streamCorsOrigins ?? [])
    if (!/^https:\/\/[^/\s*]+$/.test(origin))
      throw new ContextError(`Context "streamCorsOrigins" takes https origins (no path, no *); got "${origin}".`);

  return {
    stage: stage as Stage,
    retain,
    alarmEmail,
    openaiBaseUrl: httpsUrl(get, "openaiBaseUrl"),
    publicUrl: httpsUrl(get, "publicUrl"),
    pollerReservedConcurrency,
    streamCorsOrigins: streamCorsOrigins?.length ? streamCorsOrigins : undefined,
  };
}

function text(get: (key: string) => unknown, key: string): string | undefined {
  const value = get(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string")
    throw new ContextError(`Context "${key}" must be a string; got ${JSON.stringify(value)}.`);
  return value.trim();
}

function httpsUrl(get: (key: string) => unknown, key: string): string | undefined {
  const value = text(get, key);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ContextError(`Context "${key}" is not a URL: "${value}".`);
  }
  if (url.protocol !== "https:") throw new ContextError(`Context "${key}" must be an https URL; got "${value}".`);
  return value.replace(/\/+$/, "");
}
