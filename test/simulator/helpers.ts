/**
 * Shared set-up for simulator tests: a simulator on a ManualClock and the official SDK pointed at it, so
 * tests prove the simulator speaks the wire format the SDK (and therefore the relay) expects.
 */
import OpenAI from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { ManualClock } from "#shared/clock.ts";
import { startSimulator, type Simulator, type SimulatorOptions } from "#local/simulator/index.ts";

export interface SimHarness {
  sim: Simulator;
  clock: ManualClock;
  client: OpenAI;
}

export async function startHarness(opts: SimulatorOptions = {}): Promise<SimHarness> {
  const clock = new ManualClock();
  const sim = await startSimulator({ clock, ...opts });
  const client = new OpenAI({ baseURL: sim.url, apiKey: "sk-test", maxRetries: 0 });
  return { sim, clock, client };
}

/** Drains a stream; a cut connection is reported as `error` instead of failing the test. */
export async function collect(
  stream: AsyncIterable<ResponseStreamEvent>,
): Promise<{ events: ResponseStreamEvent[]; error?: unknown }> {
  const events: ResponseStreamEvent[] = [];
  try {
    for await (const event of stream) events.push(event);
    return { events };
  } catch (error) {
    return { events, error };
  }
}

/** The message text of a Response as sent on the wire (cancel() results lack the SDK's output_text). */
export function textOf(response: { output: Array<{ type: string }> }): string {
  const message = response.output.find((item) => item.type === "message") as
    | { content: Array<{ text?: string }> }
    | undefined;
  return message?.content.map((part) => part.text ?? "").join("") ?? "";
}

export const deltasOf = (events: ResponseStreamEvent[]): string =>
  events.map((e) => (e.type === "response.output_text.delta" ? e.delta : "")).join("");

/** Polls a condition in real time (for things driven by the simulator's real-time tickers). */
export async function waitFor<T>(probe: () => T | undefined | false, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("waitFor: timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw reply's JSON, loosely typed for assertions. */
export const jsonOf = (res: Response): Promise<any> => res.json();

/** What an OpenAI SDK call threw, for asserting on error classes and fields. */
export async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to throw");
}

export const BASE_REQUEST = {
  model: "gpt-5-pro",
  input: "Summarise the history of background jobs.",
  background: true,
} as const;
