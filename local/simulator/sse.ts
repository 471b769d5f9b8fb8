/**
 * Serving one stream connection: send every event available on the clock, wait for more, finish after the
 * terminal event (or at the cancel / delete), and optionally cut the socket after N events the way a flaky
 * network or proxy would.
 */
import type { ServerResponse } from "node:http";
import type { Clock } from "#shared/clock.ts";
import { frameSse, renderEvent } from "./events.ts";
import type { Job } from "./job.ts";
import type { Ticker } from "./ticker.ts";

export interface StreamOptions {
  res: ServerResponse;
  job: Job;
  /** First sequence number to send (starting_after + 1). */
  fromSeq: number;
  clock: Clock;
  ticker: Ticker;
  cutAfter: number | null;
  includeObfuscation: boolean;
  /** True once the simulator is closing. */
  stopped: () => boolean;
}

export type StreamEnd = "finished" | "cut" | "client_gone";

const writeAndFlush = (res: ServerResponse, chunk: string) =>
  new Promise<void>((resolve) => res.write(chunk, () => resolve()));

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

export async function pumpStream(o: StreamOptions): Promise<StreamEnd> {
  const { res, job } = o;
  let clientGone = false;
  res.on("close", () => (clientGone = true));
  const total = job.timeline.events.length;
  let next = Math.max(0, o.fromSeq);
  let sent = 0;

  const cut = () => {
    // Destroying the socket mid-body leaves the chunked response unterminated: the client sees a network error.
    res.socket?.destroy();
    return "cut" as const;
  };

  while (!clientGone && !o.stopped()) {
    const now = o.clock.now();
    const available = job.deleted ? next : job.availableEvents(now);
    while (next < available && !clientGone) {
      if (o.cutAfter !== null && sent >= o.cutAfter) return cut();
      const chunk = frameSse(renderEvent(job, next, o.includeObfuscation));
      next += 1;
      sent += 1;
      if (o.cutAfter !== null && sent >= o.cutAfter && next < total) {
        // Let this event reach the client before cutting, so "after N events" means N were delivered.
        await writeAndFlush(res, chunk);
        return cut();
      }
      if (!res.write(chunk)) await drained(res);
    }
    if (clientGone) break;
    if (next >= total || job.streamFinishedAt(now)) {
      res.end();
      return "finished";
    }
    await o.ticker.wait();
  }
  if (!res.writableEnded) res.end();
  return "client_gone";
}
