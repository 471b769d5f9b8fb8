import type { Clock } from "#shared/clock.ts";

/**
 * Compressed time: `speed`× faster than the wall clock from `t0`. Every process given the same
 * t0 and speed agrees on the time, so the relay (restarted after each kill) and the simulator
 * (in the test process) share one timeline.
 */
export function compressedClock(t0: number, speed: number): Clock {
  return { now: () => Math.floor(t0 + (Date.now() - t0) * speed) };
}
