import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_DELTAS } from "#local/simulator/timeline.ts";
import { BASE_REQUEST, collect, deltasOf, startHarness, type SimHarness } from "./helpers.ts";

describe("simulator: multi-MB outputs", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness({ behaviour: { queuedMs: 0, runMs: 1000 } });
  });
  afterEach(() => h.sim.close());

  it("returns a 3 MB output intact through retrieve and through stream deltas", async () => {
    const bytes = 3 * 1024 * 1024;
    const stream = await h.client.responses.create({
      ...BASE_REQUEST,
      stream: true,
      metadata: { sim_output_bytes: String(bytes) },
    });
    h.clock.advance(1000);
    const { events, error } = await collect(stream);
    expect(error).toBeUndefined();

    const deltas = events.filter((e) => e.type === "response.output_text.delta");
    expect(deltas.length).toBeLessThanOrEqual(MAX_DELTAS);
    const streamed = deltasOf(events);
    expect(Buffer.byteLength(streamed)).toBe(bytes);

    const first = events[0];
    const id = first?.type === "response.created" ? first.response.id : "";
    const retrieved = await h.client.responses.retrieve(id);
    expect(retrieved.status).toBe("completed");
    expect(Buffer.byteLength(retrieved.output_text)).toBe(bytes);
    expect(retrieved.output_text).toBe(streamed);
    expect(retrieved.usage?.output_tokens).toBeGreaterThanOrEqual(bytes / 4);
  });
});
