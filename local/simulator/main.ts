/**
 * Run the simulator by hand: `npx tsx local/simulator/main.ts --port 4010 [--azure] [--api-key K]
 * [--queued-ms N] [--run-ms N] [--output-bytes N] [--latency-ms N] [--outcome completed|failed|…]
 * [--stream-cut-after N] [--quiet]`. Drive it further through /_sim/ (see README of the simulator).
 */
import { parseArgs } from "node:util";
import { startSimulator, type SimBehaviour } from "./index.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "4010" },
    azure: { type: "boolean", default: false },
    "api-key": { type: "string" },
    "queued-ms": { type: "string" },
    "run-ms": { type: "string" },
    "output-bytes": { type: "string" },
    "latency-ms": { type: "string" },
    "stream-cut-after": { type: "string" },
    outcome: { type: "string" },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: tsx local/simulator/main.ts --port 4010 [--azure] [--api-key K] [--queued-ms N] [--run-ms N] [--output-bytes N] [--latency-ms N] [--stream-cut-after N] [--outcome completed|failed|incomplete|stuck_queued] [--quiet]",
  );
  process.exit(0);
}

const int = (name: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got ${raw}`);
    process.exit(2);
  }
  return n;
};

const behaviour: Partial<SimBehaviour> = {};
const set = <K extends keyof SimBehaviour>(key: K, value: SimBehaviour[K] | undefined) => {
  if (value !== undefined) behaviour[key] = value;
};
set("queuedMs", int("queued-ms", values["queued-ms"]));
set("runMs", int("run-ms", values["run-ms"]));
set("outputBytes", int("output-bytes", values["output-bytes"]));
set("latencyMs", int("latency-ms", values["latency-ms"]));
set("streamCutAfter", int("stream-cut-after", values["stream-cut-after"]));
set("outcome", values.outcome as SimBehaviour["outcome"] | undefined);

const sim = await startSimulator({
  port: int("port", values.port),
  azure: values.azure,
  apiKey: values["api-key"],
  behaviour,
  log: values.quiet ? undefined : (line) => console.log(`[sim] ${line}`),
});

console.log(`Responses API simulator listening: baseURL ${sim.url}`);
console.log(
  `  try: curl -s ${sim.url}/responses -H 'content-type: application/json' ${values["api-key"] ? `-H '${values.azure ? "api-key: " : "authorization: Bearer "}${values["api-key"]}' ` : ""}-d '{"model":"gpt-5-pro","input":"hello","background":true}'`,
);
console.log(
  `  control: GET ${sim.origin}/_sim/stats, POST ${sim.origin}/_sim/config, POST|DELETE ${sim.origin}/_sim/faults, POST ${sim.origin}/_sim/webhook`,
);

const shutdown = () => {
  void sim.close().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
