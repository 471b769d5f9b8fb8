import type { Context } from "hono";
import { InvalidRequestError, UnsupportedMediaTypeError } from "#shared/errors.ts";
import { echo } from "./params.ts";

/**
 * Deepest nesting of objects and arrays a request body may have. Real bodies (input items, JSON
 * schemas of structured outputs and tools) stay far below; a hostile one nested thousands deep
 * would overflow the stack of every recursive walk after parsing (hashing, marshalling).
 */
const MAX_JSON_DEPTH = 100;

/** `application/json`, `application/<anything>+json`, with or without parameters (charset). */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Reads a JSON object body: its declared type is JSON (or none is declared, as some clients
 * send), its nesting is bounded before it is parsed, and no key is `__proto__` (JavaScript
 * objects cannot hold it as data: it would be dropped silently on the way to the store).
 */
export async function readJsonBody(c: Context): Promise<unknown> {
  const type = c.req.header("content-type");
  if (type !== undefined && type.trim() !== "" && !JSON_MEDIA_TYPE.test(type.trim())) {
    throw new UnsupportedMediaTypeError(
      "Unsupported Content-Type: the request body must be JSON (Content-Type: application/json).",
      { code: "unsupported_media_type" },
    );
  }
  const text = await c.req.text();
  if (!text.trim())
    throw new InvalidRequestError("The request body is empty; send a JSON object.", { code: "invalid_json" });
  if (nestingDepth(text) > MAX_JSON_DEPTH) {
    throw new InvalidRequestError(`The request body nests objects or arrays deeper than ${MAX_JSON_DEPTH} levels.`, {
      code: "invalid_json",
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidRequestError("The request body is not valid JSON.", { code: "invalid_json" });
  }
  const found = findProtoKey(value);
  if (found !== null) {
    const protoPath = echo(found);
    throw new InvalidRequestError(`Invalid '${protoPath}': the key '__proto__' is not accepted anywhere in a body.`, {
      param: protoPath,
      code: "invalid_value",
    });
  }
  return value;
}

/** The deepest bracket nesting in JSON text, brackets inside strings not counted. No recursion. */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: the next character is escaped
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > deepest) deepest = depth;
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return deepest;
}

/** The dotted path of the first `__proto__` key, or null. Iterative; the depth is already bounded. */
function findProtoKey(root: unknown): string | null {
  const stack: [unknown, string][] = [[root, ""]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (!value || typeof value !== "object") continue;
    if (Array.isArray(value)) {
      for (let index = 0; index < value.length; index++)
        stack.push([value[index], path ? `${path}.${index}` : String(index)]);
      continue;
    }
    for (const [key, child] of Object.entries(value)) {
      const childPath = path ? `${path}.${key}` : key;
      if (key === "__proto__") return childPath;
      stack.push([child, childPath]);
    }
  }
  return null;
}
