/**
 * Validation of behaviour patches and faults, shared by `configure()` and the HTTP control endpoints so a
 * typo in a benchmark script fails loudly instead of being ignored.
 */
import { z } from "zod";
import { SIM_OPS, type SimBehaviour, type SimFault, type WebhookConfig } from "./types.ts";

const nonNegativeInt = z.number().int().nonnegative();

export const behaviourPatchSchema = z
  .object({
    queuedMs: nonNegativeInt,
    runMs: nonNegativeInt,
    outputBytes: nonNegativeInt,
    latencyMs: nonNegativeInt,
    resumeWindowMs: nonNegativeInt,
    resumeWindowFrom: z.enum(["finished", "created"]),
    streamCutAfter: nonNegativeInt.nullable(),
    outcome: z.enum(["completed", "failed", "incomplete", "stuck_queued"]),
    rejectBackgroundWithoutStore: z.boolean(),
    streamRequiresStreamCreate: z.boolean(),
  })
  .partial()
  .strict();

export function parseBehaviourPatch(input: unknown): Partial<SimBehaviour> {
  const parsed = behaviourPatchSchema.safeParse(input);
  if (!parsed.success) throw new Error(`Invalid behaviour patch: ${z.prettifyError(parsed.error)}`);
  // `{queuedMs: undefined}` means "leave it", not "unset it".
  return Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)) as Partial<SimBehaviour>;
}

/** JSON cannot carry Infinity, so over HTTP `times` may also be "Infinity" or null (= unlimited). */
const faultSchema = z
  .object({
    op: z.enum([...SIM_OPS, "any"]),
    status: z.number().int().min(100).max(599),
    retryAfterSeconds: z.number().nonnegative(),
    code: z.string(),
    delayMs: z.number().nonnegative(),
    times: z
      .union([z.number(), z.literal("Infinity"), z.null()])
      .transform((t) => (t === null || t === "Infinity" ? Infinity : t)),
    probability: z.number().min(0).max(1),
    dropConnection: z.boolean(),
    afterHandling: z.boolean(),
  })
  .partial()
  .strict();

export function parseFault(input: unknown): SimFault {
  const parsed = faultSchema.safeParse(input);
  if (!parsed.success) throw new Error(`Invalid fault: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

const webhookSchema = z
  .object({
    url: z.url(),
    secret: z.string().min(1),
    delayMs: z.number().nonnegative().optional(),
    duplicates: z.number().int().nonnegative().optional(),
    retryDelaysMs: z.array(z.number().nonnegative()).max(50).optional(),
  })
  .strict()
  .nullable();

export function parseWebhookConfig(input: unknown): WebhookConfig | null {
  const parsed = webhookSchema.safeParse(input);
  if (!parsed.success) throw new Error(`Invalid webhook config: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
