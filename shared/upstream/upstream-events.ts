import { StreamIdleError, UpstreamUnavailableError } from "#shared/errors.ts";
import type { StreamEvent } from "#shared/ports.ts";
import { SseParser } from "#shared/streaming/sse.ts";

export interface ReadEventsOptions {
  /** A connection silent this long (real ms) is treated as dropped (half-open sockets never error). */
  idleMs: number;
  signal?: AbortSignal;
}

/**
 * The events of an upstream SSE body, parsed with the relay's linear parser. A connection that
 * breaks (or goes silent past `idleMs`) throws UpstreamUnavailableError; an abort just ends it.
 */
export async function* readUpstreamEvents(
  body: ReadableStream<Uint8Array> | null,
  options: ReadEventsOptions,
): AsyncGenerator<StreamEvent> {
  for await (const data of readSseData(body, options)) yield parseEvent(data);
}

/**
 * The `data:` payloads of an SSE body, in order, until the body ends or sends `[DONE]`. A
 * connection that breaks (or goes silent past `idleMs`) throws UpstreamUnavailableError; an
 * abort just ends it. Chat Completions chunks come through here too (they carry no event type).
 */
export async function* readSseData(
  body: ReadableStream<Uint8Array> | null,
  options: ReadEventsOptions,
): AsyncGenerator<string> {
  if (!body) throw new UpstreamUnavailableError("The upstream answered a stream request without a body.", {});
  const reader = body.getReader();
  const parser = new SseParser();
  let finished = false;
  try {
    for (;;) {
      let chunk: ReadResult;
      try {
        chunk = await readWithin(reader, options.idleMs);
      } catch (error) {
        if (options.signal?.aborted) return;
        if (error instanceof StreamIdleError) throw error;
        throw new UpstreamUnavailableError(
          `The upstream stream broke off (${error instanceof Error ? error.message : String(error)}).`,
          { cause: error },
        );
      }
      const messages = chunk.done ? parser.end() : parser.push(chunk.value);
      for (const message of messages) {
        if (message.kind !== "event") continue;
        if (message.data === "[DONE]") {
          finished = true;
          return;
        }
        yield message.data;
      }
      if (chunk.done) {
        finished = true;
        return;
      }
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

function parseEvent(data: string): StreamEvent {
  let event: unknown;
  try {
    event = JSON.parse(data);
  } catch (error) {
    throw new UpstreamUnavailableError("The upstream sent a stream event that is not JSON.", { cause: error });
  }
  const candidate = event as Partial<StreamEvent> | null;
  if (!candidate || typeof candidate.type !== "string" || !Number.isInteger(candidate.sequence_number)) {
    throw new UpstreamUnavailableError("The upstream sent a stream event without a type or sequence_number.", {});
  }
  return candidate as StreamEvent;
}

type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>;

async function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<ReadResult> {
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StreamIdleError(`The upstream stream sent nothing for ${Math.round(ms / 1000)} s.`, {})),
      ms,
    );
  });
  try {
    return await Promise.race([reader.read(), idle]);
  } finally {
    clearTimeout(timer);
  }
}
