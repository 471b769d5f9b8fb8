import type { WebhookTarget } from "#shared/domain/job.ts";
import { MAX_METADATA_PAIRS } from "#shared/domain/upstream-request.ts";
import { InvalidRequestError } from "#shared/errors.ts";
import * as s from "#shared/schema.ts";
import type { SubmitMode } from "#shared/use-cases/submit-job.ts";
import { echo } from "./params.ts";

export const WEBHOOK_EVENTS = [
  "response.completed",
  "response.failed",
  "response.cancelled",
  "response.incomplete",
] as const;

/** The relay's own field: checked strictly (unknown keys are mistakes). */
const webhookSchema = s.object(
  {
    url: s.refine(s.string({ max: 2048 }), (value) => URL.canParse(value), "must be an absolute URL"),
    events: s.optional(s.array(s.oneOf(WEBHOOK_EVENTS), { min: 1 })),
  },
  "strict",
);

/**
 * The relay's own per-job settings (stripped before forwarding, like `webhook`). `max_cost_usd`:
 * a hard cap on what the job may cost (docs/decisions/0010-tenant-limits-and-budgets.md).
 */
const relaySchema = s.object({ max_cost_usd: s.optional(s.number({ gt: 0, max: 100_000 })) }, "strict");

/** A string whose length is counted as OpenAI counts it: UTF-16 code units (an emoji is 2), not code points. */
const utf16String = (min: number, max: number) =>
  s.refine(
    s.string(),
    (text) => text.length >= min && text.length <= max,
    `must be ${min} to ${max} characters long (UTF-16 code units)`,
  );

const metadataSchema = s.refine(
  s.record(utf16String(1, 64), utf16String(0, 512)),
  (m) => Object.keys(m).length <= MAX_METADATA_PAIRS,
  `may hold at most ${MAX_METADATA_PAIRS} pairs`,
);

const isInput = (value: unknown): value is string | unknown[] => typeof value === "string" || Array.isArray(value);

/**
 * A `responses.create` body. The fields the relay relies on are checked; every other field is
 * passed through to the upstream untouched, which judges it (new OpenAI fields keep working).
 * `webhook` and `relay` are the relay's own and never reach the upstream.
 */
const submitSchema = s.object(
  {
    model: s.string({ min: 1, max: 256 }),
    input: s.optional(s.custom(isInput, "string or array")),
    instructions: s.nullish(s.string()),
    metadata: s.nullish(metadataSchema),
    max_output_tokens: s.nullish(s.number({ int: true, min: 16 })),
    background: s.nullish(s.boolean()),
    store: s.nullish(s.boolean()),
    stream: s.nullish(s.boolean()),
    webhook: s.nullish(webhookSchema),
    relay: s.nullish(relaySchema),
  },
  "passthrough",
);

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
  const parsed = s.safeParse(submitSchema, raw);
  if (!parsed.ok) {
    const issue = parsed.issues[0]!;
    // A key can be megabytes long: quote only its start.
    const param = echo(issue.path.map(String).join(".")) || null;
    const message = issue.missing ? `Missing required parameter: '${param}'.` : `Invalid '${param}': ${issue.message}.`;
    throw new InvalidRequestError(message, {
      param,
      code: issue.missing ? "missing_required_parameter" : "invalid_value",
    });
  }
  const { webhook, relay, ...rest } = parsed.value;
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
