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

/** Where a model's jobs go, and what they cost and may take there. */
interface ModelRoute extends ModelInfo {
  /** The configured upstream that serves the model. */
  upstream: string;
  /** The upstream has no background mode: the relay's own worker runs the job. */
  emulated: boolean;
}

/** Answers which upstream serves a model; null when none does (the submit is refused). */
export interface ModelCatalog {
  route(model: string): ModelRoute | null;
}

/** A routing rule from the upstreams configuration: one model by name, or every model with a prefix. */
export interface ModelRule {
  model?: string;
  prefix?: string;
  upstream: string;
  /** Overrides of the built-in catalog (`models.json`) for the models this rule matches. */
  inputPerM?: number | null;
  cachedInputPerM?: number | null;
  outputPerM?: number | null;
  deadlineSeconds?: number;
  queuedLimitSeconds?: number;
}

export interface CatalogOptions {
  rules: readonly ModelRule[];
  /** The upstream for models no rule names (null: such models are refused). */
  fallback: string | null;
  /** Upstreams the relay runs jobs for itself (no background mode of their own). */
  emulated: ReadonlySet<string>;
  /**
   * The longest an emulated job may run (the AWS worker function's 15-minute limit), enforced as
   * its deadline; null when the worker has no such bound (the local stack).
   */
  emulatedMaxSeconds: number | null;
}

/**
 * Routing as data: an exact model name wins, then the longest prefix, then the fallback upstream.
 * Prices and deadlines start from the built-in catalog (so "gpt-5-pro" keeps its price wherever it
 * is served) and a rule's own values override them.
 */
export function modelCatalog(options: CatalogOptions): ModelCatalog {
  const exact = new Map<string, ModelRule>();
  for (const rule of options.rules) if (rule.model !== undefined) exact.set(rule.model.toLowerCase(), rule);
  const prefixes = options.rules
    .filter((rule) => rule.prefix !== undefined)
    .sort((a, b) => b.prefix!.length - a.prefix!.length);
  return {
    route(model: string): ModelRoute | null {
      const name = model.toLowerCase();
      const rule = exact.get(name) ?? prefixes.find((r) => name.startsWith(r.prefix!.toLowerCase()));
      const upstream = rule?.upstream ?? options.fallback;
      if (upstream === null) return null;
      const { model: _m, prefix: _p, upstream: _u, ...overrides } = rule ?? { upstream };
      const info: ModelInfo = { ...modelInfo(model), ...withoutUndefined(overrides) };
      const emulated = options.emulated.has(upstream);
      const bound = emulated ? options.emulatedMaxSeconds : null;
      return {
        ...info,
        deadlineSeconds: bound === null ? info.deadlineSeconds : Math.min(info.deadlineSeconds, bound),
        upstream,
        emulated,
      };
    },
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
