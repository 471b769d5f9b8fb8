import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { startRelay, type RelayHarness } from "../support/relay.ts";

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 500, runMs: 1500 } });
});
afterAll(() => relay.close());

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe("outputs larger than a DynamoDB item", () => {
  it.each([
    ["410 KB", 410 * 1024],
    ["1.1 MB", Math.round(1.1 * 1024 * 1024)],
    ["5 MB", 5 * 1024 * 1024],
  ])("returns a %s output intact, byte for byte", async (_label, bytes) => {
    const res = await relay.call("POST", "/v1/responses", { model: "gpt-5-pro", input: `big ${bytes}`, metadata: { sim_output_bytes: String(bytes) } });
    const done = await relay.settle(res.body.id);
    expect(done.status).toBe("completed");
    const upstreamText = (relay.sim.getResponse(done.relay.upstream_id) as any).output[0].content[0].text as string;
    expect(upstreamText.length).toBe(bytes);
    expect(done.output_text.length).toBe(bytes);
    expect(sha(done.output_text)).toBe(sha(upstreamText));
    expect(done.output[0].content[0].text).toBe(upstreamText);
  });
});
