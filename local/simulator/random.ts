/**
 * Deterministic randomness. Output text and probabilistic faults must repeat run after run, so nothing
 * here touches Math.random; ids (which only need to be unique) use crypto instead.
 */
import { randomBytes } from "node:crypto";

/** FNV-1a over UTF-16 code units: fast, stable, good enough to seed a PRNG. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One element of `items`, chosen with a single draw from `rand` (a float in [0, 1)). */
export function pick<T>(items: readonly T[], rand: () => number): T {
  const item = items[Math.floor(rand() * items.length)];
  if (item === undefined) throw new RangeError(`pick needs a non-empty list without holes, got length ${items.length}`);
  return item;
}

/** `prefix` + random hex, the shape of OpenAI ids (resp_…, msg_…, req_…, evt_…, wh_…). */
export function randomId(prefix: string, bytes = 24): string {
  return prefix + randomBytes(bytes).toString("hex");
}
