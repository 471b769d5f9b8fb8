import { systemClock, type Clock } from "#shared/clock.ts";

/**
 * Waits until `ms` have passed on `clock`. A ManualClock only moves when a test moves it, so the
 * wait re-reads it every few real milliseconds (the simulator's streams do the same); the system
 * clock just sleeps. Resolves early when `signal` aborts.
 */
export async function sleepOnClock(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  const until = clock.now() + ms;
  const sliceMs = clock === systemClock ? Infinity : 10;
  while (!signal?.aborted) {
    const left = until - clock.now();
    if (left <= 0) return;
    await sleep(Math.min(left, sliceMs), signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
