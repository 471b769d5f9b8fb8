/**
 * Pure helpers for the relay's own worker (`emulated-worker.ts`): item ids that survive a rerun,
 * a filter that keeps a rerun from repeating what readers were already told, and the output a
 * stream has built so far (what a cancelled job keeps).
 */
import { sha256Hex } from "#shared/ids.ts";
import type { StreamEvent } from "#shared/ports.ts";

type Json = Record<string, unknown>;

const ITEM_PREFIX: Record<string, string> = { message: "msg", function_call: "fc", reasoning: "rs" };
const START_TYPES = new Set(["response.created", "response.queued", "response.in_progress"]);

/**
 * Output item ids derived from the job and the item's place, whatever the upstream made up (Ollama
 * draws random ones): a rerun's items then carry the ids readers saw in the first run's events.
 */
export class ItemIds {
  readonly #seed: string;
  readonly #byIndex = new Map<number, string>();

  constructor(jobId: string) {
    this.#seed = sha256Hex(`${jobId}#items`).slice(0, 24);
  }

  #id(index: number, type: unknown): string {
    let id = this.#byIndex.get(index);
    if (!id) this.#byIndex.set(index, (id = `${ITEM_PREFIX[String(type)] ?? "item"}_${this.#seed}${index}`));
    return id;
  }

  apply(event: StreamEvent): StreamEvent {
    const index = event.output_index;
    let out: StreamEvent = event;
    if (typeof index === "number") {
      const item = event.item as Json | undefined;
      if (item && typeof item === "object") out = { ...out, item: { ...item, id: this.#id(index, item.type) } };
      if (typeof out.item_id === "string") out = { ...out, item_id: this.#id(index, item?.type ?? "message") };
    }
    const response = event.response as Json | undefined;
    if (response && Array.isArray(response.output)) {
      const output = (response.output as Json[]).map((item, i) => ({ ...item, id: this.#id(i, item?.type) }));
      out = { ...out, response: { ...response, output } };
    }
    return out;
  }
}

const keyOf = (event: StreamEvent) =>
  `${event.type}|${String(event.output_index ?? "")}|${String(event.content_index ?? "")}|${String(event.summary_index ?? "")}`;

/**
 * What a rerun may add to a log readers have already read part of. The log's numbers only ever
 * grow, so a rerun's events are appended after the first run's; this drops what readers were
 * told already: the opening events, items and parts already opened or closed, and text already
 * streamed (a delta passes only for the part past what was told). A rerun whose text differs from
 * what was told (a model that samples differently) sends no more deltas for that part: its
 * `…done` events and the terminal Response carry the final text, as a stream the relay finishes
 * itself does (`synthesize.ts`).
 */
export class RerunFilter {
  readonly #told = new Set<string>();
  readonly #toldText = new Map<string, string>();
  readonly #runText = new Map<string, string>();
  readonly #diverged = new Set<string>();

  /** `told`: every event already in the log. */
  constructor(told: Iterable<StreamEvent>) {
    for (const event of told) {
      const key = keyOf(event);
      if (typeof event.delta === "string") this.#toldText.set(key, (this.#toldText.get(key) ?? "") + event.delta);
      else this.#told.add(START_TYPES.has(event.type) ? event.type : key);
    }
  }

  /** The event to append for this one of the run, or null when readers have it already. */
  pass(event: StreamEvent): StreamEvent | null {
    if (START_TYPES.has(event.type)) {
      if (this.#told.has(event.type)) return null;
      this.#told.add(event.type);
      return event;
    }
    const key = keyOf(event);
    if (typeof event.delta !== "string") {
      if (this.#told.has(key)) return null;
      this.#told.add(key);
      return event;
    }
    const run = (this.#runText.get(key) ?? "") + event.delta;
    this.#runText.set(key, run);
    if (this.#diverged.has(key)) return null;
    const told = this.#toldText.get(key) ?? "";
    if (run.length <= told.length) {
      if (!told.startsWith(run)) this.#diverged.add(key);
      return null;
    }
    if (!run.startsWith(told)) {
      this.#diverged.add(key);
      return null;
    }
    this.#toldText.set(key, run);
    return { ...event, delta: run.slice(told.length) };
  }
}

/**
 * The output a stream has built so far, item by item (text and arguments as streamed): what a
 * response cancelled mid-run keeps, as OpenAI's cancelled responses keep their partial output.
 */
export function outputSoFar(events: Iterable<StreamEvent>): Json[] {
  const items: Json[] = [];
  for (const event of events) {
    const i = event.output_index;
    if (typeof i !== "number") continue;
    const item = items[i];
    const c = typeof event.content_index === "number" ? event.content_index : -1;
    const content = Array.isArray(item?.content) ? (item.content as Json[]) : null;
    switch (event.type) {
      case "response.output_item.added":
      case "response.output_item.done":
        items[i] = structuredClone(event.item as Json);
        break;
      case "response.content_part.added":
      case "response.content_part.done":
        if (content && c >= 0) content[c] = structuredClone(event.part as Json);
        break;
      case "response.output_text.delta":
        if (content?.[c]) content[c]!.text = String(content[c]!.text ?? "") + String(event.delta);
        break;
      case "response.output_text.done":
        if (content?.[c]) content[c]!.text = event.text;
        break;
      case "response.function_call_arguments.delta":
        if (item) item.arguments = String(item.arguments ?? "") + String(event.delta);
        break;
      case "response.function_call_arguments.done":
        if (item) item.arguments = event.arguments;
        break;
    }
  }
  return items.filter((item) => item !== undefined);
}
