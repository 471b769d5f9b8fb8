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

export function validateCreate(body: Record<string, Json>): CreateRequest {
  const model = body.model;
  if (model === undefined || model === null)
    throw invalidRequest("Missing required parameter: 'model'.", "model", "missing_required_parameter");
  if (typeof model !== "string") throw invalidType("model", "a string", model);
  if (model.length === 0)
    throw invalidRequest(
      "Invalid 'model': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      "model",
      "empty_string",
    );

  const input = body.input;
  if (input === undefined || input === null) {
    // A stored prompt or a conversation can stand in for input; otherwise there is nothing to answer.
    if (body.prompt == null && body.conversation == null && body.previous_response_id == null) {
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
  if (body.tools !== undefined && body.tools !== null && !Array.isArray(body.tools))
    throw invalidType("tools", "an array", body.tools);
  if (
    body.previous_response_id !== undefined &&
    body.previous_response_id !== null &&
    typeof body.previous_response_id !== "string"
  ) {
    throw invalidType("previous_response_id", "a string", body.previous_response_id);
  }
  validateNumberRange(body, "temperature", 0, 2);
  validateNumberRange(body, "top_p", 0, 1);

  return {
    body,
    model,
    background: optionalBoolean(body, "background", false),
    store: optionalBoolean(body, "store", true),
    stream: optionalBoolean(body, "stream", false),
    metadata: validateMetadata(body.metadata),
  };
}
