import catalog from "./models.json" with { type: "json" };
import type { ResponseUsage } from "./job.ts";

export interface ModelInfo {
  /** The catalog entry that matched ("default" when none did). */
  key: string;
  backgroundRequired: boolean;
  /** USD per 1M tokens; null when the price is unknown (cost is then not computed). */
  inputPerM: number | null;
  cachedInputPerM: number | null;
  outputPerM: number | null;
  deadlineSeconds: number;
  queuedLimitSeconds: number;
}

const entries = Object.entries(catalog.models).sort(([a], [b]) => b.length - a.length);

/**
 * Longest-prefix match, so dated snapshots ("gpt-5-pro-2025-10-06") and Azure deployment names
 * that keep the model name find their entry, while "gpt-5-pro" never matches "gpt-5".
 */
export function modelInfo(model: string): ModelInfo {
  const name = model.toLowerCase();
  for (const [key, info] of entries) {
    if (name === key || name.startsWith(`${key}-`) || name.startsWith(`${key}_`)) return { key, ...info };
  }
  return { key: "default", ...catalog.default };
}

/**
 * Cost of a finished response in USD, computed once from its usage. Cached input tokens are a
 * subset of input tokens and priced at the cached rate.
 */
export function costUsd(usage: ResponseUsage | null, info: ModelInfo): number | null {
  if (!usage || info.inputPerM === null || info.outputPerM === null) return null;
  const cached = Math.min(usage.input_tokens_details?.cached_tokens ?? 0, usage.input_tokens);
  const uncached = usage.input_tokens - cached;
  const cachedRate = info.cachedInputPerM ?? info.inputPerM;
  const dollars = (uncached * info.inputPerM + cached * cachedRate + usage.output_tokens * info.outputPerM) / 1_000_000;
  // Micro-dollars: exact enough for one cheap job, without float noise in the JSON.
  return Math.round(dollars * 1_000_000) / 1_000_000;
}
