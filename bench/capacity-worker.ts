/**
 * One poller invocation in its own Node process, so its memory is the poller's and nothing else's
 * (what a Lambda would need). Started by bench/sections/capacity.ts with the table and the
 * simulator in the environment; prints one JSON line with what it measured.
 *
 *   node --import tsx bench/capacity-worker.ts
 *   env: BENCH_TABLE, BENCH_DYNAMO, BENCH_UPSTREAM, BENCH_PASSES, BENCH_CONCURRENCY, BENCH_EXPECTED
 *
 * Time is injected and moved 21 s before each tick: more than the longest poll interval (20 s), so
 * every pending job is due at every tick and each tick is one full pass at full speed. Wall time is
 * what is measured.
 */
import { ManualClock } from "#shared/clock.ts";
import { loadConfig } from "#shared/config.ts";
import { Poller } from "#shared/poller/poller.ts";
import { createDeps } from "#shared/runtime.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const config = loadConfig({
  RELAY_TABLE_NAME: env("BENCH_TABLE"),
  DYNAMODB_ENDPOINT: env("BENCH_DYNAMO"),
  OPENAI_BASE_URL: env("BENCH_UPSTREAM"),
  OPENAI_API_KEY: "sk-bench",
  RELAY_ALLOW_PRIVATE_WEBHOOKS: "true",
});
const concurrency = Number(env("BENCH_CONCURRENCY"));
const passes = Number(env("BENCH_PASSES"));
const expected = Number(env("BENCH_EXPECTED"));
const clock = new ManualClock(Date.now());
const deps = createDeps(config, { clock, log: () => {}, events: { publish: async () => {} } });

let peakRss = 0;
let peakHeap = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
};
global.gc?.();
const baseline = process.memoryUsage();
const sampler = setInterval(sample, 25);

// The first failure is reported with the result, so a run that advances nothing says why.
let firstError: string | null = null;
const poller = new Poller(deps, {
  tickMs: config.pollTickMs,
  concurrency,
  log: (event) => void (firstError ??= event.level === "error" ? String(event.error ?? event.msg) : null),
});
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

// The first tick of an invocation: lease every shard, read the due index, read each job, poll it.
let started = performance.now();
const first = await poller.tick();
const coldMs = performance.now() - started;
let errors = first.errors;
sample();

// Later ticks: the schedule and each job's copy are in memory, so a pass is upstream GETs only.
const warm: { advanced: number; ms: number; pollsPerSecond: number }[] = [];
for (let pass = 0; pass < passes; pass++) {
  clock.advance(21_000);
  started = performance.now();
  const report = await poller.tick();
  const ms = performance.now() - started;
  errors += report.errors;
  warm.push({
    advanced: report.advanced,
    ms: Math.round(ms),
    pollsPerSecond: Math.round((report.advanced / ms) * 1000),
  });
  sample();
}
clearInterval(sampler);
const scheduled = poller.scheduledCount;
// What the invocation keeps between ticks (its schedule and job copies), garbage collected.
global.gc?.();
const retained = process.memoryUsage();
// Hand the shards back at the real now: released at this clock's now (passes × 21 s ahead), the
// leases would look held to the next worker, whose clock starts at the real now, and it would
// find no shard to poll.
clock.set(Date.now());
await poller.releaseAll();

process.stdout.write(
  `${JSON.stringify({
    expected,
    concurrency,
    cold: {
      advanced: first.advanced,
      ms: Math.round(coldMs),
      pollsPerSecond: Math.round((first.advanced / coldMs) * 1000),
    },
    warm: { passes: warm, medianPollsPerSecond: median(warm.map((w) => w.pollsPerSecond)) },
    scheduled,
    errors,
    firstError,
    memory: {
      baselineRssMb: Math.round(baseline.rss / 1048576),
      baselineHeapMb: Math.round(baseline.heapUsed / 1048576),
      peakRssMb: Math.round(peakRss / 1048576),
      peakHeapMb: Math.round(peakHeap / 1048576),
      retainedHeapMb: Math.round(retained.heapUsed / 1048576),
    },
  })}\n`,
);
process.exit(0);
