/**
 * Validation of `POST /responses` bodies, with the real API's messages, params and codes where known.
 * Only what the relay could get wrong is checked; unknown fields pass through as the API would echo them.
 */
import { invalidRequest } from "./errors.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The parsed body, as sent (kept whole so echoes and the output seed see every field). */
export interface CreateRequest {
  body: Record<string, Json>;
  model: string;
  background: boolean;
  store: boolean;
  stream: boolean;
  metadata: Record<string, string>;
  /** `conversation` as sent (a string id or `{id}`), reduced to the id. */
  conversationId: string | null;
  include: string[];
}

/** The API's `IncludeEnum`. */
export const INCLUDABLE = [
  "file_search_call.results",
  "web_search_call.results",
  "web_search_call.action.sources",
  "message.input_image.image_url",
  "computer_call_output.output.image_url",
  "code_interpreter_call.outputs",
  "reasoning.encrypted_content",
  "message.output_text.logprobs",
];

const supportedList = (values: readonly string[]) =>
  `${values
    .slice(0, -1)
    .map((v) => `'${v}'`)
    .join(", ")}, and '${values[values.length - 1]}'`;

/** `include` values, from a body array or repeated query parameters (`include[]=…` or `include=…`). */
export function validateInclude(value: Json | undefined): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidType("include", "an array", value);
  return value.map((v, i) => {
    if (typeof v !== "string") throw invalidType(`include[${i}]`, "a string", v);
    if (!INCLUDABLE.includes(v)) {
      throw invalidRequest(
        `Invalid value: '${v}'. Supported values are: ${supportedList(INCLUDABLE)}.`,
        `include[${i}]`,
        "invalid_value",
      );
    }
    return v;
  });
}

function validateConversation(value: Json | undefined): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return value;
  if (typeof value === "object" && !Array.isArray(value)) {
    if (typeof value.id !== "string") {
      throw value.id === undefined || value.id === null
        ? invalidRequest(
            "Missing required parameter: 'conversation.id'.",
            "conversation.id",
            "missing_required_parameter",
          )
        : invalidType("conversation.id", "a string", value.id);
    }
    return value.id;
  }
  throw invalidType("conversation", "one of a string or object", value);
}

function validateTools(value: Json | undefined): void {
  if (value === undefined || value === null) return;
  if (!Array.isArray(value)) throw invalidType("tools", "an array", value);
  value.forEach((tool, i) => {
    if (tool === null || typeof tool !== "object" || Array.isArray(tool))
      throw invalidType(`tools[${i}]`, "an object", tool);
    if (tool.type === undefined || tool.type === null)
      throw invalidRequest(
        `Missing required parameter: 'tools[${i}].type'.`,
        `tools[${i}].type`,
        "missing_required_parameter",
      );
    if (tool.type !== "function") return;
    if (tool.name === undefined || tool.name === null)
      throw invalidRequest(
        `Missing required parameter: 'tools[${i}].name'.`,
        `tools[${i}].name`,
        "missing_required_parameter",
      );
    if (typeof tool.name !== "string") throw invalidType(`tools[${i}].name`, "a string", tool.name);
    const params = tool.parameters;
    if (params !== undefined && params !== null && (typeof params !== "object" || Array.isArray(params)))
      throw invalidType(`tools[${i}].parameters`, "an object", params);
  });
}

function validateTextFormat(text: Json | undefined): void {
  if (text === undefined || text === null) return;
  if (typeof text !== "object" || Array.isArray(text)) throw invalidType("text", "an object", text);
  const format = text.format;
  if (format === undefined || format === null) return;
  if (typeof format !== "object" || Array.isArray(format)) throw invalidType("text.format", "an object", format);
  const types = ["text", "json_schema", "json_object"];
  if (typeof format.type !== "string" || !types.includes(format.type)) {
    throw invalidRequest(
      `Invalid value: '${String(format.type)}'. Supported values are: 'text', 'json_schema', and 'json_object'.`,
      "text.format.type",
      "invalid_value",
    );
  }
  if (format.type !== "json_schema") return;
  for (const key of ["name", "schema"]) {
    if (format[key] === undefined || format[key] === null)
      throw invalidRequest(
        `Missing required parameter: 'text.format.${key}'.`,
        `text.format.${key}`,
        "missing_required_parameter",
      );
  }
  if (typeof format.name !== "string") throw invalidType("text.format.name", "a string", format.name);
  if (typeof format.schema !== "object" || Array.isArray(format.schema))
    throw invalidType("text.format.schema", "an object", format.schema);
}

const typeName = (v: unknown): string =>
  v === null
    ? "null"
    : Array.isArray(v)
      ? "array"
      : typeof v === "number" && Number.isInteger(v)
        ? "integer"
        : typeof v;

function invalidType(param: string, expected: string, got: unknown) {
  return invalidRequest(
    `Invalid type for '${param}': expected ${expected}, but got ${typeName(got) === "integer" ? "an integer" : `a ${typeName(got)}`} instead.`,
    param,
    "invalid_type",
  );
}

export function parseJsonBody(raw: string): Record<string, Json> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalidRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalidRequest(
      `Invalid type for body: expected an object, but got ${typeName(parsed)} instead.`,
      null,
      "invalid_type",
    );
  }
  return parsed as Record<string, Json>;
}

function optionalBoolean(body: Record<string, Json>, key: string, fallback: boolean): boolean {
  const v = body[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw invalidType(key, "a boolean", v);
  return v;
}

function validateMetadata(value: Json | undefined): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw invalidType("metadata", "an object", value);
  const entries = Object.entries(value);
  if (entries.length > 16) {
    throw invalidRequest(
      `Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with ${entries.length} properties instead.`,
      "metadata",
      "object_above_max_properties",
    );
  }
  for (const [key, v] of entries) {
    if (key.length > 64) {
      throw invalidRequest(
        `Invalid 'metadata': string too long. Expected a string with maximum length 64, but got a string with length ${key.length} instead.`,
        "metadata",
        "string_above_max_length",
      );
    }
    if (typeof v !== "string") throw invalidType(`metadata.${key}`, "a string", v);
    if (v.length > 512) {
      throw invalidRequest(
        `Invalid 'metadata.${key}': string too long. Expected a string with maximum length 512, but got a string with length ${v.length} instead.`,
        `metadata.${key}`,
        "string_above_max_length",
      );
    }
  }
  return value as Record<string, string>;
}

function validateNumberRange(body: Record<string, Json>, key: string, min: number, max: number): void {
  const v = body[key];
  if (v === undefined || v === null) return;
  if (typeof v !== "number") throw invalidType(key, "a decimal", v);
  if (v < min) {
    throw invalidRequest(
      `Invalid '${key}': decimal below minimum value. Expected a value >= ${min}, but got ${v} instead.`,
      key,
      "decimal_below_min_value",
    );
  }
  if (v > max) {
    throw invalidRequest(
      `Invalid '${key}': decimal above maximum value. Expected a value <= ${max}, but got ${v} instead.`,
      key,
      "decimal_above_max_value",
    );
  }
}

/** `input_tokens` takes a create-like body whose model is optional. */
export function validateCreate(body: Record<string, Json>, modelRequired = true): CreateRequest {
  const model = body.model ?? (modelRequired ? undefined : "");
  if (model === undefined || model === null)
    throw invalidRequest("Missing required parameter: 'model'.", "model", "missing_required_parameter");
  if (typeof model !== "string") throw invalidType("model", "a string", model);
  if (model.length === 0 && modelRequired)
    throw invalidRequest(
      "Invalid 'model': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      "model",
      "empty_string",
    );

  const input = body.input;
  if (input === undefined || input === null) {
    // A stored prompt or a conversation can stand in for input; otherwise there is nothing to answer.
    if (modelRequired && body.prompt == null && body.conversation == null && body.previous_response_id == null) {
      throw invalidRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
    }
  } else if (typeof input !== "string" && !Array.isArray(input)) {
    throw invalidType("input", "one of a string or array", input);
  }

  const maxOut = body.max_output_tokens;
  if (maxOut !== undefined && maxOut !== null) {
    if (typeof maxOut !== "number" || !Number.isInteger(maxOut))
      throw invalidType("max_output_tokens", "an integer", maxOut);
    if (maxOut < 16) {
      throw invalidRequest(
        `Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got ${maxOut} instead.`,
        "max_output_tokens",
        "integer_below_min_value",
      );
    }
  }

  if (body.instructions !== undefined && body.instructions !== null && typeof body.instructions !== "string") {
    throw invalidType("instructions", "a string", body.instructions);
  }
  validateTools(body.tools);
  validateTextFormat(body.text);
  if (
    body.previous_response_id !== undefined &&
    body.previous_response_id !== null &&
    typeof body.previous_response_id !== "string"
  ) {
    throw invalidType("previous_response_id", "a string", body.previous_response_id);
  }
  validateNumberRange(body, "temperature", 0, 2);
  validateNumberRange(body, "top_p", 0, 1);
  const conversationId = validateConversation(body.conversation);
  if (conversationId !== null && body.previous_response_id !== undefined && body.previous_response_id !== null) {
    // Wording unconfirmed; the API reference says the two "cannot be used in conjunction".
    throw invalidRequest(
      "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
      null,
      "mutually_exclusive_parameters",
    );
  }

  return {
    body,
    model,
    background: optionalBoolean(body, "background", false),
    store: optionalBoolean(body, "store", true),
    stream: optionalBoolean(body, "stream", false),
    metadata: validateMetadata(body.metadata),
    conversationId,
    include: validateInclude(body.include),
  };
}
