/**
 * What the simulated model answers, decided once at creation from the request and the context it sees
 * (earlier turns through `previous_response_id` or a conversation):
 * - a `function_call` when function tools are offered and `tool_choice` is `required`, names a function,
 *   or is `auto` (the default) and the last user message mentions a tool: its name, or a word of four
 *   letters or more of it (`get_weather` → "weather"; first match wins), while the input carries no
 *   `function_call_output`;
 * - otherwise a message: JSON valid for `text.format` (`json_schema` / `json_object`), or words that first
 *   say what they build on (the tool outputs in the input, the previous user turn), so tests can tell a
 *   chain or a tool round trip reached the model.
 */
import { invalidRequest } from "./errors.ts";
import { type Item, itemText, lastUserText } from "./items.ts";
import { randomId, seededRandom } from "./random.ts";
import { asciiJson, jsonFor } from "./schema-value.ts";
import type { Json } from "./validate.ts";

export type Answer =
  /** `prefix` opens the text; `exact` = the text is the prefix alone (structured output). */
  | { kind: "message"; prefix: string; exact: boolean }
  | { kind: "function_call"; itemId: string; callId: string; name: string; arguments: string };

type Obj = { [key: string]: Json };
const isObject = (v: Json | undefined): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Non-ASCII becomes `?`, keeping every character one byte (deltas may cut the text anywhere). */
const ascii = (text: string) => text.replace(/[^\x20-\x7e]/g, "?");
const excerpt = (text: string, max: number) => ascii(text.length > max ? `${text.slice(0, max)}...` : text);

function functionTools(body: Obj): Obj[] {
  return Array.isArray(body.tools) ? body.tools.filter((t): t is Obj => isObject(t) && t.type === "function") : [];
}

function chooseTool(body: Obj, tools: Obj[], input: Item[]): Obj | undefined {
  const choice = body.tool_choice;
  if (isObject(choice) && choice.type === "function") {
    const tool = tools.find((t) => t.name === choice.name);
    if (!tool) {
      throw invalidRequest(
        `Tool choice 'function' with name '${String(choice.name)}' not found in 'tools' parameter.`,
        "tool_choice",
        null,
      );
    }
    return tool;
  }
  if (tools.length === 0 || choice === "none") return undefined;
  const said = lastUserText(input).toLowerCase();
  const mentioned = tools.find((t) => typeof t.name === "string" && nameWords(t.name).some((w) => said.includes(w)));
  if (choice === "required") return mentioned ?? tools[0];
  if (input.some((item) => item.type === "function_call_output")) return undefined;
  return mentioned;
}

/** A tool's name and its words of four letters or more (snake_case, kebab-case and camelCase split). */
function nameWords(name: string): string[] {
  const words = name
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .map((w) => w.toLowerCase())
    .filter((w) => w.length >= 4);
  return [name.toLowerCase(), ...words];
}

function structuredText(format: Obj, prefix: string, rand: () => number): string | undefined {
  if (format.type === "json_schema") return jsonFor(isObject(format.schema) ? format.schema : {}, rand);
  if (format.type === "json_object") return asciiJson({ answer: prefix.trim() || "ok" });
  return undefined;
}

/** Names the tool outputs in the input and the previous user turn, as a model answering them would. */
function contextPrefix(input: Item[], context: Item[]): string {
  const calls = new Map<Json | undefined, string>();
  for (const item of [...context, ...input]) {
    if (item.type === "function_call") calls.set(item.call_id, String(item.name));
  }
  const parts: string[] = [];
  for (const item of input) {
    if (item.type !== "function_call_output") continue;
    parts.push(`The ${calls.get(item.call_id) ?? "tool"} call returned ${excerpt(itemText(item), 500)}.`);
  }
  const earlier = lastUserText(context);
  if (earlier) parts.push(`Earlier you said: "${excerpt(earlier, 200)}".`);
  return parts.length > 0 ? `${parts.join(" ")} ` : "";
}

export function decideAnswer(body: Obj, input: Item[], context: Item[], seed: number): Answer {
  const rand = seededRandom(seed);
  const tool = chooseTool(body, functionTools(body), input);
  if (tool) {
    const parameters = isObject(tool.parameters) ? tool.parameters : { type: "object", properties: {} };
    return {
      kind: "function_call",
      itemId: randomId("fc_"),
      callId: `call_${randomId("", 12)}`,
      name: String(tool.name),
      arguments: jsonFor(parameters, rand),
    };
  }
  const prefix = contextPrefix(input, context);
  const format = isObject(body.text) && isObject(body.text.format) ? body.text.format : {};
  const structured = structuredText(format, prefix, rand);
  return structured === undefined
    ? { kind: "message", prefix, exact: false }
    : { kind: "message", prefix: structured, exact: true };
}

/** Every call id a function_call_output may answer: calls in the context or earlier in the same input. */
export function checkCallOutputs(input: Item[], context: Item[]): void {
  const known = new Set<Json | undefined>();
  for (const item of context) if (item.type === "function_call") known.add(item.call_id);
  for (const item of input) {
    if (item.type === "function_call") known.add(item.call_id);
    if (item.type === "function_call_output" && !known.has(item.call_id)) {
      throw invalidRequest(
        `No tool call found for function call output with call_id ${String(item.call_id)}.`,
        "input",
        null,
      );
    }
  }
}
