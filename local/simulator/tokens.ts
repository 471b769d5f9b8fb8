/**
 * Input token counts, one formula for `usage.input_tokens` and `POST /responses/input_tokens`: ~4 bytes a
 * token over the input, the instructions and the earlier turns the model reads, plus 8 for framing.
 */
import { type Item, itemText } from "./items.ts";
import type { Json } from "./validate.ts";

export function inputTokensFor(body: Record<string, Json>, contextBytes: number): number {
  const promptBytes =
    Buffer.byteLength(JSON.stringify(body.input ?? "")) + Buffer.byteLength(String(body.instructions ?? ""));
  return 8 + Math.ceil((promptBytes + contextBytes) / 4);
}

/** Bytes of the earlier turns' text (inputs, answers, tool calls and outputs). */
export const contextBytesOf = (items: Item[]): number =>
  items.reduce((sum, item) => sum + Buffer.byteLength(itemText(item)), 0);
