import { sha256Hex } from "#shared/ids.ts";
import type { InputItemPage, InputItemQuery } from "#shared/ports.ts";

type Item = Record<string, unknown>;

/** Id prefixes OpenAI uses for the item types a caller sends most. */
const ID_PREFIX: Record<string, string> = {
  message: "msg",
  function_call: "fc",
  function_call_output: "fco",
  custom_tool_call_output: "ctco",
  reasoning: "rs",
};

/**
 * A request's `input` as OpenAI lists a response's input items: a string becomes one user
 * message, short-hand messages (`{role, content: "text"}`) get their typed content parts, and every
 * item gets an id (the caller's own when it sent one; otherwise one derived from the job and the
 * item's position, so it is the same on every read and pagination by `after` works).
 */
export function inputItemsFromRequest(jobId: string, request: Record<string, unknown>): Item[] {
  const input = request.input;
  const raw: unknown[] =
    typeof input === "string" ? [{ role: "user", content: input }] : Array.isArray(input) ? input : [];
  const items: Item[] = [];
  raw.forEach((entry, index) => {
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) return;
    const item = entry as Item;
    const type = typeof item.type === "string" ? item.type : "message";
    const id = typeof item.id === "string" && item.id ? item.id : derivedId(jobId, index, type);
    items.push(type === "message" ? messageItem(item, id) : { status: "completed", ...item, id });
  });
  return items;
}

function derivedId(jobId: string, index: number, type: string): string {
  return `${ID_PREFIX[type] ?? "item"}_${sha256Hex(`${jobId}#input#${index}`).slice(0, 48)}`;
}

function messageItem(item: Item, id: string): Item {
  const role = item.role;
  const assistant = role === "assistant";
  const content =
    typeof item.content === "string"
      ? [
          assistant
            ? { type: "output_text", text: item.content, annotations: [] }
            : { type: "input_text", text: item.content },
        ]
      : Array.isArray(item.content)
        ? item.content
        : [];
  return { id, type: "message", role, status: typeof item.status === "string" ? item.status : "completed", content };
}

/** One page of `items` (in request order) as OpenAI pages them: `order` (default desc), `after` an item id. */
export function pageOfItems(items: Item[], query: InputItemQuery): InputItemPage {
  const ordered = (query.order ?? "desc") === "desc" ? [...items].reverse() : items;
  let start = 0;
  if (query.after !== undefined) {
    const at = ordered.findIndex((item) => item.id === query.after);
    // An id that is not among this response's items: nothing comes after it.
    start = at === -1 ? ordered.length : at + 1;
  }
  const limit = query.limit ?? 20;
  const data = ordered.slice(start, start + limit);
  return {
    object: "list",
    data,
    first_id: (data[0]?.id as string | undefined) ?? null,
    last_id: (data.at(-1)?.id as string | undefined) ?? null,
    has_more: start + limit < ordered.length,
  };
}
