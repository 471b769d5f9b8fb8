import type { JobStatus } from "#shared/domain/job.ts";
import { streamLabel } from "#shared/domain/labels.ts";
import { frameComment, frameEvent } from "./sse.ts";
import type { StreamEvent } from "#shared/ports.ts";
import type { StreamChunk } from "./stream-service.ts";

export interface SseResponseOptions {
  /** Epoch ms (real time) by which the response must have ended (its host's time limit); null: none. */
  deadlineAt: number | null;
  /** Real ms of silence after which a comment is sent, so proxies keep the connection open. */
  keepaliveMs?: number;
  status?: number;
  headers?: Record<string, string>;
}

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/** The relay's status line: an SSE comment, so OpenAI clients skip it and people can read it. */
export function statusComment(chunk: Extract<StreamChunk, { kind: "status" }>): string {
  return frameComment(
    `relay status ${JSON.stringify({ status: chunk.status, phase: chunk.phase, label: chunk.label })}`,
  );
}

const TIMEOUT = Symbol("timeout");

/**
 * The most one pull hands the transport. A reader that stops reading holds at most about this
 * much in the reply's queue (the transport waits for the socket to drain before pulling again),
 * whatever the size of the event it stopped in.
 */
export const SSE_SLICE_BYTES = 64 * 1024;

/**
 * Each event's frame, encoded once and shared by every reply that sends it (events come from the
 * stream service's shared pages and recent batches), so a hundred readers of one large event
 * hold one copy of it, not a hundred. Weak: a frame lives as long as its event object.
 */
const frames = new WeakMap<object, Uint8Array>();
const encoder = new TextEncoder();

function encodedFrame(event: StreamEvent): Uint8Array {
  let frame = frames.get(event);
  if (!frame) frames.set(event, (frame = encoder.encode(frameEvent(event))));
  return frame;
}

/**
 * An SSE response pulled from `open(signal)`: at most SSE_SLICE_BYTES per pull (the reader's pace
 * is the writer's: backpressure), a keepalive comment in long silences, and a clean end before
 * `deadlineAt`, always between two complete events, with a status comment saying how to resume.
 */
export function sseResponse(
  open: (signal: AbortSignal) => AsyncGenerator<StreamChunk>,
  options: SseResponseOptions,
): Response {
  const controller = new AbortController();
  const chunks = open(controller.signal);
  const keepaliveMs = options.keepaliveMs ?? 15_000;
  let pending: Promise<IteratorResult<StreamChunk>> | null = null;
  let lastStatus = "queued";
  let finished = false;
  /** The frame being sent and how much of it has gone: the rest goes out pull by pull. */
  let sending: { frame: Uint8Array; offset: number } | null = null;

  const stop = async () => {
    finished = true;
    controller.abort();
    await chunks.return(undefined).catch(() => undefined);
  };

  const body = new ReadableStream<Uint8Array>({
    async pull(out) {
      // Each pull ends with one thing enqueued, or the stream closed (else it would stall).
      for (;;) {
        if (finished) return;
        if (sending) {
          // Views of the shared frame: no copy per reader.
          const end = Math.min(sending.frame.byteLength, sending.offset + SSE_SLICE_BYTES);
          out.enqueue(sending.frame.subarray(sending.offset, end));
          sending = end >= sending.frame.byteLength ? null : { frame: sending.frame, offset: end };
          return;
        }
        const now = Date.now();
        if (options.deadlineAt !== null && now >= options.deadlineAt) {
          out.enqueue(
            encoder.encode(
              statusComment({
                kind: "status",
                status: lastStatus,
                phase: "paused",
                label: streamLabel(lastStatus as JobStatus, "paused"),
              }),
            ),
          );
          out.close();
          await stop();
          return;
        }
        pending ??= chunks.next();
        const waitMs = Math.max(
          0,
          Math.min(keepaliveMs, options.deadlineAt === null ? Infinity : options.deadlineAt - now),
        );
        let timer: NodeJS.Timeout | undefined;
        const result = await Promise.race([
          pending,
          new Promise<typeof TIMEOUT>((resolve) => (timer = setTimeout(() => resolve(TIMEOUT), waitMs))),
        ]).finally(() => clearTimeout(timer));
        if (result === TIMEOUT) {
          if (options.deadlineAt !== null && Date.now() >= options.deadlineAt) continue;
          out.enqueue(encoder.encode(": keepalive\n\n"));
          return;
        }
        pending = null;
        if (result.done) {
          finished = true;
          out.close();
          return;
        }
        const chunk = result.value;
        if (chunk.kind === "status") {
          lastStatus = chunk.status;
          out.enqueue(encoder.encode(statusComment(chunk)));
          return;
        }
        sending = { frame: encodedFrame(chunk.event), offset: 0 };
      }
    },
    async cancel() {
      await stop();
    },
  });
  return new Response(body, { status: options.status ?? 200, headers: { ...SSE_HEADERS, ...options.headers } });
}
