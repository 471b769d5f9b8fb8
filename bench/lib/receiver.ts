import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import type { Clock } from "#shared/clock.ts";

export interface Arrival {
  jobId: string;
  webhookId: string;
  type: string;
  /** Wall-clock ms when the request was fully read. */
  atWallMs: number;
  /** The injected clock's ms at arrival (equals atWallMs with the system clock). */
  atClockMs: number;
}

/**
 * The caller's webhook endpoint: verifies each delivery with `standardwebhooks` (as a caller
 * would), records when it arrived, answers 200. An unverifiable delivery is a benchmark failure.
 */
export async function startBenchReceiver(secret: string, clock: Clock = { now: () => Date.now() }) {
  const verifier = new Webhook(secret);
  const arrivals: Arrival[] = [];
  const waiters = new Set<() => void>();
  let rejected = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const atWallMs = Date.now();
      const atClockMs = clock.now();
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        const event = verifier.verify(body, req.headers as Record<string, string>) as {
          type: string;
          data: { id: string };
        };
        arrivals.push({
          jobId: event.data.id,
          webhookId: String(req.headers["webhook-id"]),
          type: event.type,
          atWallMs,
          atClockMs,
        });
        res.writeHead(200).end();
      } catch {
        rejected++;
        res.writeHead(400).end();
      }
      for (const wake of waiters) wake();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    arrivals,
    get rejected() {
      return rejected;
    },
    /** First arrival per job id. */
    firstByJob(): Map<string, Arrival> {
      const first = new Map<string, Arrival>();
      for (const a of arrivals) if (!first.has(a.jobId)) first.set(a.jobId, a);
      return first;
    },
    /** Resolves once `done()` holds, re-checked on every arrival; rejects after `timeoutMs`. */
    async waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
      if (done()) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`webhooks did not arrive within ${timeoutMs} ms (${arrivals.length} so far)`));
        }, timeoutMs);
        const check = () => {
          if (!done()) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
