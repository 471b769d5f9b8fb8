/**
 * Reading the relay's streams as a raw SSE client would (every event, `id:` line and `: relay
 * status` comment visible), and driving the shared ManualClock while a stream runs.
 */
import type { StreamEvent } from "#shared/ports.ts";
import { readSse } from "#shared/streaming/sse.ts";
import type { RelayHarness } from "#test/support/relay.ts";

interface RelayStatus {
  status: string;
  phase: string;
  label: string;
}

export interface StreamRead {
  status: number;
  headers: Headers;
  events: StreamEvent[];
  /** The `id:` of each event, as EventSource would remember it. */
  ids: (string | null)[];
  statuses: RelayStatus[];
  /** The SSE `event:` name of each event. */
  names: (string | null)[];
  /** Set when the connection ended because we stopped reading. */
  stoppedEarly: boolean;
  /** Resolves when the body ended. */
  done: Promise<void>;
  /** Disconnects now. */
  close(): void;
}

/** Opens a stream and reads it in the background; `stopAfter` disconnects after that many events. */
export async function openStream(
  relay: Pick<RelayHarness, "url" | "apiKey">,
  path: string,
  options: { method?: string; body?: unknown; headers?: Record<string, string>; stopAfter?: number } = {},
): Promise<StreamRead> {
  const controller = new AbortController();
  const response = await fetch(`${relay.url}${path}`, {
    method: options.method ?? "GET",
    headers: {
      authorization: `Bearer ${relay.apiKey}`,
      ...(options.body ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
    body: options.body ? JSON.stringify(options.body) : undefined,
    signal: controller.signal,
  });
  const read: StreamRead = {
    status: response.status,
    headers: response.headers,
    events: [],
    ids: [],
    names: [],
    statuses: [],
    stoppedEarly: false,
    done: Promise.resolve(),
    close: () => controller.abort(),
  };
  if (!response.headers.get("content-type")?.startsWith("text/event-stream")) {
    read.done = response.text().then(() => undefined);
    return read;
  }
  read.done = (async () => {
    try {
      for await (const message of readSse(response.body as unknown as AsyncIterable<Uint8Array>)) {
        if (message.kind === "comment") {
          if (message.text.startsWith("relay status "))
            read.statuses.push(JSON.parse(message.text.slice("relay status ".length)));
          continue;
        }
        read.events.push(JSON.parse(message.data));
        read.ids.push(message.id);
        read.names.push(message.event);
        if (options.stopAfter !== undefined && read.events.length >= options.stopAfter) {
          read.stoppedEarly = true;
          controller.abort();
          return;
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  return read;
}

/** Moves the clock in steps (ticking the poller) until `done()` holds; a few real ms per step. */
export async function driveUntil(
  relay: Pick<RelayHarness, "clock" | "poller">,
  done: () => boolean | Promise<boolean>,
  { stepMs = 500, maxSteps = 2000, realMs = 10, tick = true } = {},
): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    if (await done()) return;
    relay.clock.advance(stepMs);
    if (tick) await relay.poller.tick();
    await new Promise((r) => setTimeout(r, realMs));
  }
  throw new Error(`driveUntil: condition not reached after ${maxSteps} steps`);
}

/** Waits (real time) for a stream to end, moving the clock meanwhile. */
export async function driveToEnd(
  relay: Pick<RelayHarness, "clock" | "poller">,
  read: StreamRead,
  options: Parameters<typeof driveUntil>[2] = {},
): Promise<void> {
  let ended = false;
  const finished = read.done.finally(() => (ended = true));
  await driveUntil(relay, () => ended, options);
  await finished;
}

export const seqs = (events: StreamEvent[]) => events.map((e) => e.sequence_number);
export const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
export const deltaText = (events: StreamEvent[]) =>
  events.map((e) => (e.type === "response.output_text.delta" ? (e.delta as string) : "")).join("");
