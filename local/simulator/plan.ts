/**
 * A job's plan: the global behaviour at creation time, overridden per request by `sim_*` metadata. The relay
 * forwards metadata untouched, so end-to-end tests steer single jobs through it without a side channel.
 */
import { invalidRequest } from "./errors.ts";
import { SIM_OUTCOMES, type SimBehaviour, type SimOutcome } from "./types.ts";

export interface JobPlan {
  queuedMs: number;
  runMs: number;
  outputBytes: number;
  outcome: SimOutcome;
  /** Only from metadata; undefined = follow the global knob as it is when a stream connects. */
  streamCutAfter: number | null | undefined;
  cachedTokens: number;
}

function nonNegativeInt(metadata: Record<string, string>, key: string): number | undefined {
  const raw = metadata[key];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < 0) {
    throw invalidRequest(
      `Invalid 'metadata.${key}': expected a non-negative integer as a string, got '${raw}'.`,
      `metadata.${key}`,
      "invalid_value",
    );
  }
  return n;
}

export function planFor(behaviour: SimBehaviour, metadata: Record<string, string>): JobPlan {
  const outcomeRaw = metadata.sim_outcome;
  if (outcomeRaw !== undefined && !SIM_OUTCOMES.includes(outcomeRaw as SimOutcome)) {
    throw invalidRequest(
      `Invalid 'metadata.sim_outcome': expected one of ${SIM_OUTCOMES.join(", ")}, got '${outcomeRaw}'.`,
      "metadata.sim_outcome",
      "invalid_value",
    );
  }
  const cutRaw = metadata.sim_stream_cut_after;
  const cut = cutRaw === "none" || cutRaw === "null" ? null : nonNegativeInt(metadata, "sim_stream_cut_after");
  return {
    queuedMs: nonNegativeInt(metadata, "sim_queued_ms") ?? behaviour.queuedMs,
    runMs: nonNegativeInt(metadata, "sim_run_ms") ?? behaviour.runMs,
    outputBytes: nonNegativeInt(metadata, "sim_output_bytes") ?? behaviour.outputBytes,
    outcome: (outcomeRaw as SimOutcome | undefined) ?? behaviour.outcome,
    streamCutAfter: cut,
    cachedTokens: nonNegativeInt(metadata, "sim_cached_tokens") ?? 0,
  };
}
