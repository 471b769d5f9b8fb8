/**
 * Stalled stream readers, in a process of their own so the memory measured is the relay's: one
 * job with a large output, its stream read once in full (so its log is stored), then `READERS`
 * clients that ask for the whole stream and never read a byte. Prints one JSON line.
 *
 *   node --expose-gc --import tsx bench/stalled-readers-worker.ts
 *   env: BENCH_DYNAMO, BENCH_READERS, BENCH_OUTPUT_BYTES
 */
import { connect, type Socket } from "node:net";
import { ManualClock } from "#shared/clock.ts";
import { startSimulator } from "#local/simulator/index.ts";
import { relayCall, startRelayStack } from "#bench/lib/stack.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const readers = Number(process.env.BENCH_READERS ?? 60);
const outputBytes = Number(process.env.BENCH_OUTPUT_BYTES ?? 3_000_000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const clock = new ManualClock(Date.now());
const sim = await startSimulator({ clock, behaviour: { queuedMs: 100, runMs: 1000 } });
const stack = await startRelayStack({
  dynamoEndpoint: process.env.BENCH_DYNAMO!,
  upstreamUrl: sim.url,
  clock,
  tablePrefix: "bench-stall",
});
const poller = stack.newPoller({ awaitDeliveries: true });
const job = (
  await relayCall(stack, "POST", "/v1/responses", {
    background: true,
    model: "gpt-5-pro",
    input: "a long answer",
    metadata: { sim_output_bytes: String(outputBytes) },
  })
).body as { id: string };
for (let i = 0; i < 30; i++) {
  clock.advance(1000);
  await poller.tick();
  if ((await stack.apiDeps.jobs.get(job.id))?.status === "completed") break;
}
const path = `/v1/responses/${job.id}?stream=true`;
// One full read: the stream log is written (and its size known).
const full = await fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
const streamBytes = (await full.arrayBuffer()).byteLength;

const measure = async () => {
  for (let i = 0; i < 3; i++) {
    global.gc?.();
    await sleep(100);
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external + m.arrayBuffers };
};
const before = await measure();
const port = Number(new URL(stack.url).port);
const sockets: Socket[] = [];
for (let i = 0; i < readers; i++) {
  const socket = connect(port, "127.0.0.1");
  // A reader that never reads: the request goes out, nothing is taken from the socket.
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer ${stack.apiKey}\r\n\r\n`);
  sockets.push(socket);
}
// Let the server push all it will push.
let peakRss = 0;
for (let i = 0; i < 40; i++) {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  await sleep(100);
}
const after = await measure();
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
console.log(
  JSON.stringify({
    readers,
    outputBytes,
    streamBytes,
    addedRssMb: mb(after.rss - before.rss),
    addedHeapMb: mb(after.heap - before.heap),
    addedExternalMb: mb(after.external - before.external),
    peakAddedRssMb: mb(Math.max(peakRss, after.rss) - before.rss),
    perReaderMb: mb((after.rss - before.rss) / readers),
  }),
);
for (const socket of sockets) socket.destroy();
await stack.close();
await sim.close();
process.exit(0);
