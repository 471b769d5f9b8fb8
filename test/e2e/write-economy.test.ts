import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapacityMeter } from "#shared/store/dynamo-client.ts";
import { loadConfig } from "#shared/config.ts";
import { createDeps } from "#shared/runtime.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 5_000, runMs: 15 * 60_000 } });
});
afterAll(() => relay.close());

describe("DynamoDB writes", () => {
  it("grow with status changes, not with the number of polls", { timeout: 90_000 }, async () => {
    // A second set of adapters on the same table, metered, drives the poller.
    const meter = new CapacityMeter();
    const config = loadConfig({
      RELAY_TABLE_NAME: relay.table.tableName,
      DYNAMODB_ENDPOINT: relay.table.endpoint,
      OPENAI_BASE_URL: relay.sim.url,
      OPENAI_API_KEY: "sk",
    });
    const metered = createDeps(config, { clock: relay.clock, meter, log: () => {} });
    const { Poller } = await import("#shared/poller/poller.ts");
    const poller = new Poller(metered, { tickMs: 1000 });

    const res = await relay.call("POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: "a fifteen-minute job",
    });
    const retrievesBefore = relay.sim.stats().ops.retrieve;
    let updates = 0;
    let reads = 0;
    const update = metered.jobs.update.bind(metered.jobs);
    metered.jobs.update = async (...args) => {
      updates++;
      return update(...args);
    };
    const get = metered.jobs.get.bind(metered.jobs);
    metered.jobs.get = async (id) => {
      reads++;
      return get(id);
    };
    let checks = 0;
    const countChecks = async () => checks;
    await relay.runUntil(async () => (checks++, (await relay.deps.jobs.get(res.body.id))?.status === "completed"), {
      pollers: [poller],
      stepMs: 3000,
      maxSteps: 400,
    });
    checks = 0;
    const polls = relay.sim.stats().ops.retrieve - retrievesBefore;
    expect(polls).toBeGreaterThan(40);
    // queued -> in_progress, then the terminal write: two job writes for the whole run.
    expect(updates).toBe(2);
    // The poller keeps its copy between polls: the job item is read once (plus our checks above).
    expect(reads - (await countChecks())).toBeLessThanOrEqual(1);
    // What the table did cost is metered (the benchmark reports it per job).
    expect(meter.writeUnits).toBeGreaterThan(0);
    await poller.releaseAll();
  });
});
