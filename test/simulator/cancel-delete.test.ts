import { afterEach, beforeEach, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { BASE_REQUEST, caught, startHarness, textOf, type SimHarness } from "./helpers.ts";

describe("simulator: cancel and delete", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness({ behaviour: { queuedMs: 1000, runMs: 4000, outputBytes: 600 } });
  });
  afterEach(() => h.sim.close());

  it("cancels a queued response: no output, usage null", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    const cancelled = await h.client.responses.cancel(id);
    expect(cancelled).toMatchObject({ id, status: "cancelled", output: [], usage: null, completed_at: null });
    h.clock.advance(60_000);
    expect((await h.client.responses.retrieve(id)).status).toBe("cancelled");
  });

  it("cancels mid-run keeping the partial text, idempotently, and the result never changes afterwards", async () => {
    const twin = await h.client.responses.create(BASE_REQUEST); // same request, left to complete
    const { id } = await h.client.responses.create(BASE_REQUEST);
    h.clock.advance(1000 + 2000);

    const cancelled = await h.client.responses.cancel(id);
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.usage).toBeNull();
    expect(cancelled.output[0]).toMatchObject({ type: "message", status: "in_progress" });
    const partial = textOf(cancelled);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(600);

    h.clock.advance(1000);
    const again = await h.client.responses.cancel(id);
    expect(again).toEqual(cancelled);

    h.clock.advance(60_000);
    const later = await h.client.responses.retrieve(id);
    expect(later.status).toBe("cancelled");
    expect(later.output_text).toBe(partial);

    const full = await h.client.responses.retrieve(twin.id);
    expect(full.status).toBe("completed");
    expect(full.output_text.startsWith(partial)).toBe(true);
  });

  it("returns an already terminal response unchanged", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    h.clock.advance(5000);
    const before = await h.client.responses.retrieve(id);
    const afterCancel = await h.client.responses.cancel(id);
    expect(afterCancel.status).toBe("completed");
    expect(textOf(afterCancel)).toBe(before.output_text);
    expect(afterCancel.usage).toEqual(before.usage);
  });

  it("cancels a stuck_queued response", async () => {
    const { id } = await h.client.responses.create({ ...BASE_REQUEST, metadata: { sim_outcome: "stuck_queued" } });
    h.clock.advance(3600_000);
    expect((await h.client.responses.cancel(id)).status).toBe("cancelled");
  });

  it("refuses to cancel a synchronous response", async () => {
    const { id } = await h.client.responses.create({ model: "gpt-5-pro", input: "sync" });
    const err = await caught(h.client.responses.cancel(id));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toBe("400 Cannot cancel a synchronous response.");
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).type).toBe("invalid_request_error");
  });

  it("deletes a response; afterwards every operation on it is 404", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    const raw = await h.client.responses.delete(id).asResponse();
    expect(raw.status).toBe(200);
    expect(await raw.json()).toEqual({ id, object: "response", deleted: true });

    for (const call of [
      () => h.client.responses.retrieve(id),
      () => h.client.responses.retrieve(id, { stream: true }),
      () => h.client.responses.cancel(id),
      () => h.client.responses.delete(id),
    ]) {
      const err = await caught(call());
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as Error).message).toBe(`404 Response with id '${id}' not found.`);
    }
  });
});
