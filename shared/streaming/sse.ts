/**
 * Server-sent events as the Responses API frames them: an `event:` line, a `data:` line, a blank
 * line; no `[DONE]`. The relay adds an `id:` line (the sequence number) so a browser EventSource
 * resumes with Last-Event-ID, and `:` comment lines for its own status, which SSE clients (the
 * official SDKs, EventSource) skip.
 */
import type { StreamEvent } from "#shared/ports.ts";

export function frameEvent(event: StreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\nid: ${event.sequence_number}\n\n`;
}

/** A comment block: ignored by SSE clients, readable by people and raw readers. */
export function frameComment(text: string): string {
  return `${text
    .split(/\r?\n/)
    .map((line) => `: ${line}`)
    .join("\n")}\n\n`;
}

export type SseMessage =
  | { kind: "event"; event: string | null; data: string; id: string | null }
  | { kind: "comment"; text: string };

/**
 * An incremental SSE parser, linear in its input: only the unfinished line is kept between chunks,
 * as a list of pieces joined once the line ends (a multi-MB `data:` line arriving in many chunks is
 * never re-copied or re-scanned).
 */
export class SseParser {
  readonly #decoder = new TextDecoder();
  #pieces: string[] = [];
  #event: string | null = null;
  #data: string[] = [];
  #id: string | null = null;

  /** Feeds bytes (or text); returns the messages completed by them. */
  push(chunk: Uint8Array | string): SseMessage[] {
    const text = typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    const out: SseMessage[] = [];
    let start = 0;
    for (;;) {
      const newline = text.indexOf("\n", start);
      if (newline === -1) break;
      this.#pieces.push(text.slice(start, newline));
      const line = this.#pieces.length === 1 ? this.#pieces[0]! : this.#pieces.join("");
      this.#pieces = [];
      this.#line(line.endsWith("\r") ? line.slice(0, -1) : line, out);
      start = newline + 1;
    }
    if (start < text.length) this.#pieces.push(text.slice(start));
    return out;
  }

  /** At the end of input: per the SSE rules an unterminated message is dropped. */
  end(): SseMessage[] {
    const rest = this.#decoder.decode();
    return rest ? this.push(rest) : [];
  }

  #line(line: string, out: SseMessage[]): void {
    if (line === "") {
      if (this.#data.length > 0 || this.#event !== null)
        out.push({ kind: "event", event: this.#event, data: this.#data.join("\n"), id: this.#id });
      this.#event = null;
      this.#data = [];
      this.#id = null;
      return;
    }
    if (line.startsWith(":")) {
      out.push({ kind: "comment", text: line.slice(1).replace(/^ /, "") });
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
    else if (field === "id") this.#id = value;
  }
}

/** Reads a byte stream as SSE messages. */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const parser = new SseParser();
  for await (const chunk of body) yield* parser.push(chunk);
  yield* parser.end();
}
