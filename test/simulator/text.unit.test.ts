import { describe, expect, it } from "vitest";
import { generateText, TextCache } from "#local/simulator/text.ts";
import { planTimeline, MAX_DELTAS } from "#local/simulator/timeline.ts";

describe("simulator: output text and timeline", () => {
  it("generates exactly the requested number of ASCII bytes, the shorter a prefix of the longer", () => {
    for (const n of [0, 1, 15, 16, 17, 600, 100_003]) {
      const text = generateText(42, n);
      expect(Buffer.byteLength(text)).toBe(n);
      expect(text).toMatch(/^[\x20-\x7e]*$/);
    }
    expect(generateText(42, 100_003).startsWith(generateText(42, 600))).toBe(true);
    expect(generateText(43, 600)).not.toBe(generateText(42, 600));
  });

  it("evicts the oldest texts beyond its byte budget", () => {
    const cache = new TextCache(10);
    let made = 0;
    const make = () => (made++, "12345678");
    cache.get("a", make);
    cache.get("b", make); // over budget: a goes
    cache.get("b", make);
    cache.get("a", make);
    expect(made).toBe(3);
  });

  it("caps deltas and schedules every event in time order, the terminal one at the end of the run", () => {
    const timeline = planTimeline(
      1000,
      {
        queuedMs: 500,
        runMs: 2000,
        outputBytes: 5_000_000,
        outcome: "completed",
        streamCutAfter: undefined,
        cachedTokens: 0,
      },
      true,
    );
    expect(timeline.deltaCount).toBeLessThanOrEqual(MAX_DELTAS);
    expect(timeline.deltaCount * timeline.deltaSize).toBeGreaterThanOrEqual(5_000_000);
    const times = timeline.events.map((e) => e.at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(timeline.events.at(-1)).toEqual({ kind: "completed", at: 3500 });
    expect(timeline.events.filter((e) => e.at === 1000).map((e) => e.kind)).toEqual(["created", "queued"]);
  });
});
