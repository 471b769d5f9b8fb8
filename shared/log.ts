import { AsyncLocalStorage } from "node:async_hooks";
import { Logger } from "@aws-lambda-powertools/logger";

/** The relay's logging port: one structured event per call (`level`, `msg`, then any fields). */
export type Log = (event: Record<string, unknown>) => void;

/** Fields every line written inside one request, invocation or job step carries. */
export interface LogContext {
  /** The relay's `x-request-id` (shared/http/app.ts). */
  requestId?: string;
  /** Lambda's request id for the invocation. */
  awsRequestId?: string;
  jobId?: string;
}

const context = new AsyncLocalStorage<LogContext>();

/**
 * Runs `fn` with `fields` added to every log line written inside it, across awaits. Async-local
 * rather than a logger-wide key, so concurrent requests in the local stack never mix ids.
 */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, fn);
}

/**
 * Powertools Logger writes one JSON object per line to stdout itself, so under Lambda's JSON log
 * format each line is stored as the object it is (console.log of a JSON string would be wrapped
 * as a string inside "message"). Its level follows AWS_LAMBDA_LOG_LEVEL (the template's
 * ApplicationLogLevel) or POWERTOOLS_LOG_LEVEL.
 */
const logger = new Logger({ serviceName: "responses-relay" });

const LEVELS = new Set(["debug", "info", "warn", "error"]);

/**
 * Field names whose values never reach a log line. Values shaped like the secrets the relay holds
 * (OpenAI keys, whsec_ secrets, relay keys, bearer headers) are masked wherever they appear.
 */
const SECRET_FIELD = /^(authorization|x-api-key|api[-_]?key|.*secret.*|password|access[-_]?token|cookie)$/i;
const SECRET_VALUE = /\b(sk-[A-Za-z0-9_-]{8,}|whsec_[A-Za-z0-9+/=]{8,}|rr_[A-Za-z0-9_-]{8,}|Bearer\s+\S{8,})/g;

/** Longest string a log line carries in one field: paths, bodies and messages come from callers. */
export const MAX_LOG_STRING = 1000;

/** Cuts a long string to its start and says how much was left out. */
const bounded = (value: string): string =>
  value.length > MAX_LOG_STRING
    ? `${value.slice(0, MAX_LOG_STRING)}… (${value.length - MAX_LOG_STRING} more characters)`
    : value;

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return bounded(value.replace(SECRET_VALUE, "[redacted]"));
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: redact(value.message), stack: redact(value.stack) };
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key, SECRET_FIELD.test(key) ? "[redacted]" : redact(v, depth + 1)]),
  );
}

export const jsonLog: Log = (event) => {
  const { level, msg, ...fields } = event;
  const method = typeof level === "string" && LEVELS.has(level) ? (level as "info") : "info";
  const message = typeof msg === "string" ? msg : "event";
  logger[method](redact(message) as string, redact({ ...context.getStore(), ...fields }) as Record<string, unknown>);
};
