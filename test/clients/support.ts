import { startRelay, type RelayHarness } from "#test/support/relay.ts";

/**
 * The relay as a foreign client meets it: real HTTP on 127.0.0.1, DynamoDB Local, the simulator.
 * Short jobs and small outputs keep the clients' own parsers quick.
 */
export function startClientRelay(): Promise<RelayHarness> {
  return startRelay({ behaviour: { queuedMs: 1000, runMs: 3000, outputBytes: 500 } });
}

/**
 * Awaits a client call while the relay's shared clock moves and the poller ticks, as time would
 * pass in production. A blocking create or a stream only ends when the job does, so without this
 * the call would wait forever on a clock that never moves.
 */
export async function driven<T>(relay: RelayHarness, call: Promise<T> | (() => Promise<T>), stepMs = 250): Promise<T> {
  const promise = typeof call === "function" ? call() : call;
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 4000 && !settled; i++) {
    relay.clock.advance(stepMs);
    await relay.poller.tick();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return promise;
}

/** A function tool every client offers the model, in the Responses API's own terms. */
export const WEATHER_TOOL = {
  type: "function" as const,
  name: "get_weather",
  description: "The current weather in a city.",
  parameters: {
    type: "object",
    properties: { city: { type: "string", description: "The city's name." } },
    required: ["city"],
    additionalProperties: false,
  },
  strict: true,
};

/** The relay's own block, which the SDK types do not know. */
export const relayOf = (response: unknown) =>
  (response as { relay: { upstream_id: string | null; status_url: string } }).relay;
