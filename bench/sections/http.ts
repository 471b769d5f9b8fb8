/**
 * Submit and status through the HTTP API (Hono on node:http, loopback), at a few concurrency
 * levels with a bounded number of requests each. Submit includes the upstream create (the
 * simulator's realistic latency), status is a DynamoDB read (plus the output for a finished job).
 *
 * The status read is then held against its floor, a bare GetItem of the job's item + JSON encode,
 * paired request by request (statusVsBare): each worker sends one of each in a random order, so
 * both meet the same load, the same JIT state and the same DynamoDB Local, and each pair goes over
 * the same transport, either loopback HTTP (both served by @hono/node-server, the floor without
 * auth, limits or the Response view) or in this process (the relay app's `fetch`, which is what
 * Lambda runs behind API Gateway, against the GetItem alone).
 */
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { Hono } from "hono";
import { freePort } from "#local/dynamodb-local.ts";
import { startSimulator } from "#local/simulator/index.ts";
import { createDynamoClients } from "#shared/store/dynamo-client.ts";
import { jobKey } from "#shared/store/keys.ts";
import { applyLatencyProfile } from "#bench/lib/sim-probe.ts";
import { relayCall, startRelayStack, type RelayStack } from "#bench/lib/stack.ts";
import { mapLimited, round, rounded, seeded, summarize, type Summary } from "#bench/lib/stats.ts";

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
  /** The status read and the bare GetItem + JSON, paired request by request over the same transport. */
  statusVsBare: StatusPair[];
  /** DynamoDB units one call costs (mean over the run). */
  unitsPerCall: {
    submit: { read: number; write: number };
    statusPending: { read: number; write: number };
    statusCompleted: { read: number; write: number };
  };
}

interface StatusPair {
  job: "pending" | "completed";
  /** "http": both over loopback HTTP; "in-process": the relay app's fetch against the bare read. */
  transport: "http" | "in-process";
  concurrency: number;
  /** Pairs sent: this many status reads and as many bare reads. */
  pairs: number;
  statusMs: Summary;
  bareMs: Summary;
  /** status p50 ÷ bare p50. */
  ratioP50: number;
  errors: number;
}

export async function runHttp(dynamoEndpoint: string, s: HttpSettings): Promise<HttpResult> {
  const sim = await startSimulator({ seed: s.seed, behaviour: { queuedMs: 500, runMs: 1000 } });
  applyLatencyProfile(sim);
  // The paired reads below add to the plain ones: more than the default 6,000 requests a minute.
  const stack = await startRelayStack({
    dynamoEndpoint,
    upstreamUrl: sim.url,
    tablePrefix: "bench-http",
    tenantLimits: { requestsPerMinute: 100_000 },
  });
  const count = (c: number) => Math.max(s.minRequests, c * s.perWorker);
  const pairs = await startPairs(stack, dynamoEndpoint, s.seed);

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
    const statusVsBare: StatusPair[] = [];
    const paired = async (job: StatusPair["job"]) => {
      for (const transport of ["http", "in-process"] as const)
        for (const c of s.concurrency) statusVsBare.push(await pairs.level(job, transport, c, count(c) * 2, ids));
    };
    await paired("pending");

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
    await paired("completed");

    const per = (b: { read: number; write: number; n: number }) => ({
      read: round(b.read / b.n, 2),
      write: round(b.write / b.n, 2),
    });
    return {
      submit,
      statusPending,
      statusCompleted,
      statusVsBare,
      unitsPerCall: {
        submit: per(units.submit),
        statusPending: per(units.statusPending),
        statusCompleted: per(units.statusCompleted),
      },
    };
  } finally {
    await pairs.close();
    await stack.close();
    await sim.close();
  }
}

/**
 * The paired measurement's two sides: the relay (its loopback server, or its app's fetch in this
 * process) and the floor, one consistent GetItem of the job's item through a client of its own,
 * JSON-encoded (served by a one-route Hono app on @hono/node-server for the HTTP pairs).
 */
async function startPairs(stack: RelayStack, dynamoEndpoint: string, seed: number) {
  const { client, doc } = createDynamoClients({ endpoint: dynamoEndpoint });
  const bareRead = async (id: string) => {
    const { Item } = await doc.send(
      new GetCommand({ TableName: stack.tableName, Key: jobKey(id), ConsistentRead: true }),
    );
    return JSON.stringify(Item ?? null);
  };
  const bareApp = new Hono().get("/bare/:id", async (c) =>
    c.body(await bareRead(c.req.param("id")), 200, { "content-type": "application/json" }),
  );
  const port = await freePort();
  const server = serve({ fetch: bareApp.fetch, port, hostname: "127.0.0.1" }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  server.keepAliveTimeout = 10_000;
  const auth = { authorization: `Bearer ${stack.apiKey}` };
  const ok = (status: number) => status >= 200 && status < 300;
  const sides = {
    http: {
      status: async (id: string) => {
        const res = await fetch(`${stack.url}/v1/responses/${id}`, { headers: auth });
        await res.text();
        return ok(res.status);
      },
      bare: async (id: string) => {
        const res = await fetch(`http://127.0.0.1:${port}/bare/${id}`);
        await res.text();
        return ok(res.status);
      },
    },
    "in-process": {
      status: async (id: string) => {
        const res = await stack.app.fetch(new Request(`${stack.url}/v1/responses/${id}`, { headers: auth }));
        await res.text();
        return ok(res.status);
      },
      bare: async (id: string) => (await bareRead(id)).length > 0,
    },
  };
  const random = seeded(seed);
  return {
    async level(
      job: StatusPair["job"],
      transport: StatusPair["transport"],
      concurrency: number,
      pairs: number,
      ids: readonly string[],
    ): Promise<StatusPair> {
      const side = sides[transport];
      const statusMs: number[] = [];
      const bareMs: number[] = [];
      let errors = 0;
      const timed = async (call: (id: string) => Promise<boolean>, id: string, into: number[] | null) => {
        const t = performance.now();
        const good = await call(id).catch(() => false);
        into?.push(performance.now() - t);
        if (!good && into) errors++;
      };
      const pair = async (i: number, measured: boolean) => {
        const id = ids[(i + ids.length * 8) % ids.length]!;
        const order = random() < 0.5 ? (["status", "bare"] as const) : (["bare", "status"] as const);
        for (const which of order)
          await timed(side[which], id, measured ? (which === "status" ? statusMs : bareMs) : null);
      };
      // Warm-up, as for the other levels: connections and JIT, not measured.
      await mapLimited(
        Array.from({ length: concurrency }, (_, i) => i),
        concurrency,
        (i) => pair(-1 - i, false),
      );
      await mapLimited(
        Array.from({ length: pairs }, (_, i) => i),
        concurrency,
        (i) => pair(i, true),
      );
      const status = rounded(summarize(statusMs), 2);
      const bare = rounded(summarize(bareMs), 2);
      return {
        job,
        transport,
        concurrency,
        pairs,
        statusMs: status,
        bareMs: bare,
        ratioP50: round(status.p50 / bare.p50, 2),
        errors,
      };
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      client.destroy();
    },
  };
}
