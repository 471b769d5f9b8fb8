import type { Context } from "hono";
import { InvalidRequestError } from "#shared/errors.ts";

/** The request body as JSON; an empty or malformed body is the caller's 400, never a 500. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (!text.trim())
    throw new InvalidRequestError("The request body is empty; send a JSON object.", { code: "invalid_json" });
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidRequestError("The request body is not valid JSON.", { code: "invalid_json" });
  }
}
