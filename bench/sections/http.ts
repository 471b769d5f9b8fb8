/**
 * Submit and status through the HTTP API (Hono on node:http, loopback), at a few concurrency
 * levels with a bounded number of requests each. Submit includes the upstream create (the
 * simulator's realistic latency), status is a DynamoDB read (plus the output for a finished job).
 */
import { startSimulator } from "#local/simulator/index.ts";
import { applyLatencyProfile } from "#bench/lib/sim-probe.ts";
import { relayCall, startRelayStack } from "#bench/lib/stack.ts";
import { mapLimited, round, rounded, summarize, type Summary } from "#bench/lib/stats.ts";

export interface HttpSettings {
  concurrency: number[];
  /** Requests per level: max(minRequests, concurrency × perWorker). */
  minRequests: number;
  perWorker: number;
  seed: number;
}

interface HttpLevel {
  concurrency: number;
  requests: number;
  latencyMs: Summary;
  requestsPerSecond: number;
  errors: number;
}

export interface HttpResult {
  submit: HttpLevel[];
  statusPending: HttpLevel[];
  statusCompleted: HttpLevel[];
  /**
   * The floor a status read is held against: the job's item read straight from the table
   * (one GetItem through the store) and JSON-encoded, in this process, no HTTP, no auth.
   */
  bareGetItem: HttpLevel[];
  /** DynamoDB units one call costs (mean over the run). */
  unitsPerCall: {
    submit: { read: number; write: number };
    statusPending: { read: number; write: number };
    statusCompleted: { read: number; write: number };
  };
}

export async function runHttp(dynamoEndpoint: string, s: HttpSettings): Promise<HttpResult> {
  const sim = await startSimulator({ seed: s.seed, behaviour: { queuedMs: 500, runMs: 1000 } });
  applyLatencyProfile(sim);
  const stack = await startRelayStack({ dynamoEndpoint, upstreamUrl: sim.url, tablePrefix: "bench-http" });
  const count = (c: number) => Math.max(s.minRequests, c * s.perWorker);

  async function level(
    concurrency: number,
    requests: number,
    call: (i: number) => Promise<number>,
  ): Promise<HttpLevel> {
    const latencies: number[] = [];
    let errors = 0;
    // A short warm-up per level: connections and JIT, not measured.
    await mapLimited(
      Array.from({ length: concurrency }, (_, i) => i),
      concurrency,
      async (i) => void (await call(-1 - i)),
    );
    const started = performance.now();
    await mapLimited(
      Array.from({ length: requests }, (_, i) => i),
      concurrency,
      async (i) => {
        const t = performance.now();
        const status = await call(i).catch(() => 0);
        latencies.push(performance.now() - t);
        if (status < 200 || status >= 300) errors++;
      },
    );
    const seconds = (performance.now() - started) / 1000;
    return {
      concurrency,
      requests,
      latencyMs: rounded(summarize(latencies), 1),
      requestsPerSecond: round(requests / seconds, 1),
      errors,
    };
  }

  try {
    const ids: string[] = [];
    const submit: HttpLevel[] = [];
    const units = {
      submit: { read: 0, write: 0, n: 0 },
      statusPending: { read: 0, write: 0, n: 0 },
      statusCompleted: { read: 0, write: 0, n: 0 },
    };
    const metered = async <T>(bucket: { read: number; write: number; n: number }, n: number, run: () => Promise<T>) => {
      const before = { r: stack.meters.api.readUnits, w: stack.meters.api.writeUnits };
      const result = await run();
      bucket.read += stack.meters.api.readUnits - before.r;
      bucket.write += stack.meters.api.writeUnits - before.w;
      bucket.n += n;
      return result;
    };
    for (const c of s.concurrency) {
      const n = count(c);
      submit.push(
        await metered(units.submit, n + c, () =>
          level(c, n, async (i) => {
            const res = await relayCall(stack, "POST", "/v1/responses", {
              background: true,
              model: "gpt-5-pro",
              input: `http bench ${c}/${i}`,
            });
            if (res.status === 202) ids.push(res.body.id);
            return res.status;
          }),
        ),
      );
    }
    const statusOf = (bucket: HttpLevel[]) => async (c: number) => {
      const n = count(c) * 2;
      bucket.push(
        await level(
          c,
          n,
          async (i) =>
            (await relayCall(stack, "GET", `/v1/responses/${ids[(i + ids.length * 8) % ids.length]}`)).status,
        ),
      );
    };
    // The poller is not running: every job is still pending in the relay (one item read).
    const statusPending: HttpLevel[] = [];
    for (const c of s.concurrency)
      await metered(units.statusPending, count(c) * 2 + c, () => statusOf(statusPending)(c));

    // Finish them (one poller pass: the upstream already completed them), then read finished jobs (item + output).
    const poller = stack.newPoller({ concurrency: 32 });
    for (let pass = 0; ; pass++) {
      await poller.tick();
      const jobs = await mapLimited(ids, 16, (id) => stack.apiDeps.jobs.get(id));
      if (jobs.every((job) => job?.status === "completed")) break;
      if (pass > 30) throw new Error("the HTTP benchmark's jobs did not complete");
      await new Promise((r) => setTimeout(r, 1000));
    }
    await poller.releaseAll();
    const statusCompleted: HttpLevel[] = [];
    for (const c of s.concurrency)
      await metered(units.statusCompleted, count(c) * 2 + c, () => statusOf(statusCompleted)(c));

    const bareGetItem: HttpLevel[] = [];
    for (const c of s.concurrency)
      bareGetItem.push(
        await level(c, count(c) * 2, async (i) => {
          const job = await stack.apiDeps.jobs.get(ids[(i + ids.length * 8) % ids.length]!);
          return JSON.stringify(job).length > 0 ? 200 : 500;
        }),
      );

    const per = (b: { read: number; write: number; n: number }) => ({
      read: round(b.read / b.n, 2),
      write: round(b.write / b.n, 2),
    });
    return {
      submit,
      statusPending,
      statusCompleted,
      bareGetItem,
      unitsPerCall: {
        submit: per(units.submit),
        statusPending: per(units.statusPending),
        statusCompleted: per(units.statusCompleted),
      },
    };
  } finally {
    await stack.close();
    await sim.close();
  }
}
