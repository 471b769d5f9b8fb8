import { boundOutput, UNBOUNDED_TOOL_TYPES } from "#shared/domain/budget.ts";
import type { JobBudget } from "#shared/domain/job.ts";
import type { ModelInfo } from "#shared/domain/models.ts";
import { InvalidRequestError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";
import { countInputTokens } from "./count-input-tokens.ts";

/** The create fields OpenAI's input-token count takes (it refuses the others). */
const COUNTED_FIELDS = [
  "model",
  "input",
  "instructions",
  "previous_response_id",
  "conversation",
  "reasoning",
  "text",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "truncation",
];

/**
 * `relay.max_cost_usd`: a hard cap. The upstream counts the input; the relay then sends a
 * `max_output_tokens` under which even the worst case (every input token uncached, every output
 * token used) costs no more than the cap (shared/domain/budget.ts, docs/decisions/0010-tenant-limits-and-budgets.md). Refused up
 * front (400, nothing stored) when the cap cannot be kept: no price for the model, built-in
 * tools whose results the model reads back as more billed input, a priority tier billed above
 * the catalog, or an input that alone leaves no room for the smallest output.
 */
export async function boundByBudget(
  tenantId: string,
  body: Record<string, unknown> & { model: string },
  capUsd: number,
  /** The model as routed: its prices (a route may override the catalog's). */
  info: ModelInfo,
  deps: Deps,
): Promise<{ body: Record<string, unknown> & { model: string }; budget: JobBudget }> {
  const param = "relay.max_cost_usd";
  if (info.inputPerM === null || info.outputPerM === null)
    throw new InvalidRequestError(
      `relay.max_cost_usd needs the model's prices, and the relay has none for '${body.model.slice(0, 100)}'.`,
      { param, code: "model_price_unknown" },
    );
  const tools = Array.isArray(body.tools) ? (body.tools as { type?: unknown }[]) : [];
  const unbounded = tools.find((tool) => UNBOUNDED_TOOL_TYPES.includes(String(tool?.type)));
  if (unbounded)
    throw new InvalidRequestError(
      `relay.max_cost_usd cannot be kept with the built-in tool '${String(unbounded.type)}': what it returns is read back as input the relay cannot count in advance. Drop the tool or the cap.`,
      { param, code: "budget_not_enforceable" },
    );
  if (body.service_tier === "priority")
    throw new InvalidRequestError(
      "relay.max_cost_usd is computed at standard prices; the priority tier bills above them. Drop one of the two.",
      { param, code: "budget_not_enforceable" },
    );
  const counted = Object.fromEntries(Object.entries(body).filter(([key]) => COUNTED_FIELDS.includes(key)));
  const { input_tokens: inputTokens } = await countInputTokens(tenantId, counted, deps);
  const requested = typeof body.max_output_tokens === "number" ? body.max_output_tokens : null;
  const verdict = boundOutput(info, inputTokens, capUsd, requested);
  if (!verdict.ok)
    throw new InvalidRequestError(
      `The input alone (${inputTokens} tokens) costs $${verdict.inputCostUsd?.toFixed(6)} at ${info.key}'s prices; relay.max_cost_usd of $${capUsd} leaves no room for even the smallest output (16 tokens).`,
      { param, code: "max_cost_too_low" },
    );
  return {
    body: { ...body, max_output_tokens: verdict.maxOutputTokens },
    budget: {
      maxCostUsd: capUsd,
      inputTokens,
      maxOutputTokens: verdict.maxOutputTokens,
      worstCaseUsd: verdict.worstCaseUsd,
    },
  };
}
