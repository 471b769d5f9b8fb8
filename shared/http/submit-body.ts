import { z } from "zod";
import type { WebhookTarget } from "#shared/domain/job.ts";
import { MAX_METADATA_PAIRS } from "#shared/domain/upstream-request.ts";
import { InvalidRequestError } from "#shared/errors.ts";
import type { SubmitMode } from "#shared/use-cases/submit-job.ts";
import { echo } from "./params.ts";

export const WEBHOOK_EVENTS = [
  "response.completed",
  "response.failed",
  "response.cancelled",
  "response.incomplete",
] as const;

/** The relay's own field: checked strictly (unknown keys are mistakes). */
const webhookSchema = z
  .object({
    url: z
      .string()
      .max(2048)
      .refine((value) => URL.canParse(value), "must be an absolute URL"),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).optional(),
  })
  .strict();

/**
 * The relay's own per-job settings (stripped before forwarding, like `webhook`). `max_cost_usd`:
 * a hard cap on what the job may cost (docs/decisions/0010-tenant-limits-and-budgets.md).
 */
const relaySchema = z
  .object({
    max_cost_usd: z.number().positive().max(100_000).optional(),
  })
  .strict();

/** A string whose length is counted as OpenAI counts it: UTF-16 code units (an emoji is 2), not code points. */
const utf16String = (min: number, max: number) =>
  z
    .string()
    .refine((s) => s.length >= min && s.length <= max, `must be ${min} to ${max} characters long (UTF-16 code units)`);

const metadataSchema = z
  .record(utf16String(1, 64), utf16String(0, 512))
  .refine((m) => Object.keys(m).length <= MAX_METADATA_PAIRS, `may hold at most ${MAX_METADATA_PAIRS} pairs`);

/**
 * A `responses.create` body. The fields the relay relies on are checked; every other field is
 * passed through to the upstream untouched, which judges it (new OpenAI fields keep working).
 * `webhook` and `relay` are the relay's own and never reach the upstream.
 */
const submitSchema = z
  .object({
    model: z.string().min(1).max(256),
    input: z.union([z.string(), z.array(z.unknown())]).optional(),
    instructions: z.string().nullable().optional(),
    metadata: metadataSchema.nullable().optional(),
    max_output_tokens: z.number().int().min(16).nullable().optional(),
    background: z.boolean().nullable().optional(),
    store: z.boolean().nullable().optional(),
    stream: z.boolean().nullable().optional(),
    webhook: webhookSchema.nullable().optional(),
    relay: relaySchema.nullable().optional(),
  })
  .passthrough();

export interface SubmitBody {
  /** The caller's body as sent (`background`, `store`, `stream` included), minus `webhook`. */
  body: Record<string, unknown> & { model: string; metadata?: Record<string, string> };
  webhook: WebhookTarget | null;
  /** `relay.max_cost_usd`, or null. */
  maxCostUsd: number | null;
  mode: SubmitMode;
}

export function parseSubmitBody(raw: unknown): SubmitBody {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new InvalidRequestError("The request body must be a JSON object.", { code: "invalid_json" });
  }
  const parsed = submitSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // A key can be megabytes long: quote only its start.
    const param = echo(issue.path.map(String).join(".")) || null;
    const missing = issue.code === "invalid_type" && valueAt(raw, issue.path) === undefined;
    const message = missing ? `Missing required parameter: '${param}'.` : `Invalid '${param}': ${issue.message}.`;
    throw new InvalidRequestError(message, { param, code: missing ? "missing_required_parameter" : "invalid_value" });
  }
  const { webhook, relay, ...rest } = parsed.data;
  const body = { ...rest } as SubmitBody["body"];
  if (rest.metadata === null) delete body.metadata;
  const mode: SubmitMode = rest.stream === true ? "stream" : rest.background === true ? "background" : "blocking";
  return {
    body,
    webhook: webhook ? { url: webhook.url, ...(webhook.events ? { events: [...webhook.events] } : {}) } : null,
    maxCostUsd: relay?.max_cost_usd ?? null,
    mode,
  };
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path)
    current = current && typeof current === "object" ? (current as Record<PropertyKey, unknown>)[key] : undefined;
  return current;
}
