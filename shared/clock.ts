/**
 * Time as a port. Everything that waits, schedules or stamps goes through a Clock so tests and the
 * simulator can jump hours ahead without waiting (`ManualClock`).
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that only moves when told to. Shared by the simulator and the relay in tests. It starts
 * at the real time by default: items carry TTLs computed from it, and DynamoDB Local's TTL sweep
 * deletes items whose expiry lies in the real past.
 */
export class ManualClock implements Clock {
  #now: number;
  constructor(startMs: number = Date.now()) {
    this.#now = startMs;
  }
  now(): number {
    return this.#now;
  }
  advance(ms: number): number {
    this.#now += ms;
    return this.#now;
  }
  set(ms: number): void {
    this.#now = ms;
  }
}

/** Unix seconds, as OpenAI spells timestamps. */
export const toUnixSeconds = (ms: number): number => Math.floor(ms / 1000);
