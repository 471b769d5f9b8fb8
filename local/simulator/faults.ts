/**
 * Queued faults. The first fault matching a request's operation decides its fate; probability rolls use a
 * seeded PRNG so a flaky-network run repeats exactly.
 */
import { seededRandom } from "./random.ts";
import { SIM_OPS, type SimFault, type SimOp } from "./types.ts";

interface Armed {
  fault: SimFault;
  remaining: number;
}

export class FaultQueue {
  #armed: Armed[] = [];
  readonly #random: () => number;

  constructor(seed: number) {
    this.#random = seededRandom(seed);
  }

  add(fault: SimFault): void {
    validateFault(fault);
    this.#armed.push({ fault, remaining: fault.times ?? 1 });
  }

  clear(): void {
    this.#armed = [];
  }

  get pending(): SimFault[] {
    return this.#armed.map((a) => ({ ...a.fault, times: a.remaining }));
  }

  /** The fault to apply to this request, if any (consumes one of its `times`). */
  take(op: SimOp | null): SimFault | undefined {
    for (const armed of this.#armed) {
      const target = armed.fault.op ?? "any";
      if (target !== "any" && target !== op) continue;
      if (armed.fault.probability !== undefined && this.#random() >= armed.fault.probability) continue;
      armed.remaining -= 1;
      if (armed.remaining <= 0) this.#armed = this.#armed.filter((a) => a !== armed);
      return armed.fault;
    }
    return undefined;
  }
}

// Every counted operation (the README lists them all), chat included.
const OPS = new Set<string>([...SIM_OPS, "any"]);

export function validateFault(f: SimFault): void {
  const problems: string[] = [];
  if (f.op !== undefined && !OPS.has(f.op)) problems.push(`op must be one of ${[...OPS].join(", ")}`);
  if (f.status !== undefined && (!Number.isInteger(f.status) || f.status < 100 || f.status > 599))
    problems.push("status must be an HTTP status");
  if (f.times !== undefined && !(f.times === Infinity || (Number.isInteger(f.times) && f.times >= 1)))
    problems.push("times must be a positive integer or Infinity");
  if (f.probability !== undefined && !(f.probability >= 0 && f.probability <= 1))
    problems.push("probability must be within 0..1");
  if (f.delayMs !== undefined && !(f.delayMs >= 0)) problems.push("delayMs must be >= 0");
  if (f.retryAfterSeconds !== undefined && !(f.retryAfterSeconds >= 0)) problems.push("retryAfterSeconds must be >= 0");
  if (f.status === undefined && !f.dropConnection && f.delayMs === undefined)
    problems.push("a fault needs status, dropConnection or delayMs");
  if (problems.length > 0) throw new Error(`Invalid fault: ${problems.join("; ")}`);
}
