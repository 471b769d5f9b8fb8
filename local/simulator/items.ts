/**
 * Input items as the API stores them: every item gets an id (`msg_…`, `fc_…`, `fco_…`), a string input
 * becomes one user message with `input_text` content, and shorthand messages (`{role, content: "…"}`) get
 * the content-part list the API lists back. Also the plain text of an item, which the simulated model
 * "reads" when it answers and when it counts tokens.
 */
import { invalidRequest } from "./errors.ts";
import { randomId } from "./random.ts";
import type { Json } from "./validate.ts";

export type Item = { [key: string]: Json };

const ROLES = ["assistant", "system", "developer", "user"];

const isObject = (v: Json | undefined): v is Item => typeof v === "object" && v !== null && !Array.isArray(v);

const typeName = (v: Json): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

function missing(param: string) {
  return invalidRequest(`Missing required parameter: '${param}'.`, param, "missing_required_parameter");
}

function notA(param: string, expected: string, got: Json) {
  return invalidRequest(
    `Invalid type for '${param}': expected ${expected}, but got ${typeName(got) === "array" ? "an array" : `a ${typeName(got)}`} instead.`,
    param,
    "invalid_type",
  );
}

function contentParts(role: string, content: Json, param: string): Json[] {
  if (typeof content === "string") {
    return [
      role === "assistant"
        ? { type: "output_text", text: content, annotations: [], logprobs: [] }
        : { type: "input_text", text: content },
    ];
  }
  if (!Array.isArray(content)) throw notA(param, "one of a string or array", content);
  return content.map((part, i) => {
    if (!isObject(part)) throw notA(`${param}[${i}]`, "an object", part);
    // The API lists assistant text with its (empty) annotation list even when the caller left it out.
    return part.type === "output_text" ? { annotations: [], logprobs: [], ...part } : part;
  });
}

function messageItem(raw: Item, param: string): Item {
  const role = raw.role;
  if (role === undefined || role === null) throw missing(`${param}.role`);
  if (typeof role !== "string" || !ROLES.includes(role)) {
    throw invalidRequest(
      `Invalid value: '${String(role)}'. Supported values are: 'assistant', 'system', 'developer', and 'user'.`,
      `${param}.role`,
      "invalid_value",
    );
  }
  if (raw.content === undefined || raw.content === null) throw missing(`${param}.content`);
  return {
    id: typeof raw.id === "string" ? raw.id : randomId("msg_"),
    type: "message",
    role,
    content: contentParts(role, raw.content, `${param}.content`),
    status: typeof raw.status === "string" ? raw.status : "completed",
  };
}

function requireString(raw: Item, key: string, param: string): string {
  const v = raw[key];
  if (v === undefined || v === null) throw missing(`${param}.${key}`);
  if (typeof v !== "string") throw notA(`${param}.${key}`, "a string", v);
  return v;
}

function normalizeItem(raw: Json, index: number): Item {
  const param = `input[${index}]`;
  if (!isObject(raw)) throw notA(param, "an object", raw);
  const type = raw.type ?? "message";
  if (type === "message") return messageItem(raw, param);
  if (type === "function_call") {
    return {
      id: typeof raw.id === "string" ? raw.id : randomId("fc_"),
      type,
      call_id: requireString(raw, "call_id", param),
      name: requireString(raw, "name", param),
      arguments: requireString(raw, "arguments", param),
      status: typeof raw.status === "string" ? raw.status : "completed",
    };
  }
  if (type === "function_call_output") {
    const callId = requireString(raw, "call_id", param);
    const output = raw.output;
    if (output === undefined || output === null) throw missing(`${param}.output`);
    if (typeof output !== "string" && !Array.isArray(output)) throw notA(`${param}.output`, "a string", output);
    return {
      id: typeof raw.id === "string" ? raw.id : randomId("fco_"),
      type,
      call_id: callId,
      output,
      status: "completed",
    };
  }
  // Other item types (reasoning, tool calls the simulator does not model) are kept as sent, with an id.
  return { id: typeof raw.id === "string" ? raw.id : randomId("item_"), ...raw };
}

/** The input as stored items (ids assigned once, at creation). */
export function inputItemsOf(input: Json | undefined): Item[] {
  if (input === undefined || input === null) return [];
  if (typeof input === "string") {
    return [
      {
        id: randomId("msg_"),
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: input }],
        status: "completed",
      },
    ];
  }
  if (!Array.isArray(input)) return [];
  return input.map(normalizeItem);
}

function partsText(content: Json | undefined): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part) => (isObject(part) && typeof part.text === "string" ? part.text : "")).join("");
}

/** What the model reads of an item: message text, a call's name and arguments, a tool's output. */
export function itemText(item: Item): string {
  switch (item.type) {
    case "message":
      return partsText(item.content);
    case "function_call":
      return `${String(item.name)}(${String(item.arguments)})`;
    case "function_call_output":
      return partsText(item.output);
    default:
      return "";
  }
}

/** The text of the last user message, which decides whether an `auto` tool choice calls a tool. */
export function lastUserText(items: Item[]): string {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    if (item.type === "message" && item.role === "user") return itemText(item);
  }
  return "";
}
