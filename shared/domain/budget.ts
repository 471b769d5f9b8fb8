import type { ModelInfo } from "./models.ts";

/** The upstream's smallest accepted `max_output_tokens`. */
const MIN_OUTPUT_TOKENS = 16;

/**
 * Built-in tools whose results the model reads back as more input, billed, inside one response
 * (and some bill per call): no count taken before the create can bound what such a response costs.
 * Function tools are fine: the response ends at the call, and the caller's follow-up is a new job.
 */
export const UNBOUNDED_TOOL_TYPES = [
  "web_search",
  "web_search_preview",
  "file_search",
  "code_interpreter",
  "computer_use_preview",
  "image_generation",
  "mcp",
  "local_shell",
  "shell",
];

export type BudgetVerdict =
  | { ok: true; maxOutputTokens: number; worstCaseUsd: number }
  | { ok: false; reason: "no_price" | "input_exceeds_cap"; inputCostUsd?: number };

/**
 * The largest `max_output_tokens` whose worst case stays within `capUsd`: every input token at the
 * full (uncached) rate, every output token (reasoning included: OpenAI counts reasoning tokens
 * against `max_output_tokens` and bills them as output) at the output rate. The caller's own
 * `max_output_tokens`, if smaller, stands.
 */
export function boundOutput(
  info: ModelInfo,
  inputTokens: number,
  capUsd: number,
  requestedMax: number | null,
): BudgetVerdict {
  if (info.inputPerM === null || info.outputPerM === null) return { ok: false, reason: "no_price" };
  const inputCostUsd = (inputTokens * info.inputPerM) / 1_000_000;
  const left = capUsd - inputCostUsd;
  const affordable = left <= 0 ? 0 : Math.floor((left * 1_000_000) / info.outputPerM + 1e-9);
  // Never round a cap up: recompute and step down if float noise put the worst case above it.
  let max = Math.min(affordable, requestedMax ?? Number.POSITIVE_INFINITY);
  while (max > 0 && worstCaseUsd(info, inputTokens, max) > capUsd) max--;
  if (max < MIN_OUTPUT_TOKENS) return { ok: false, reason: "input_exceeds_cap", inputCostUsd };
  return { ok: true, maxOutputTokens: max, worstCaseUsd: worstCaseUsd(info, inputTokens, max) };
}

function worstCaseUsd(info: ModelInfo, inputTokens: number, maxOutputTokens: number): number {
  return (inputTokens * info.inputPerM! + maxOutputTokens * info.outputPerM!) / 1_000_000;
}
