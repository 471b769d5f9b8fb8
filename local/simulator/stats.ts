/** Request counters, so tests and the benchmark can count upstream calls per job. */
import { SIM_OPS, type SimOp, type SimStats } from "./types.ts";

const zeroOps = () => Object.fromEntries(SIM_OPS.map((op) => [op, 0])) as Record<SimOp, number>;

export class StatsCounter {
  #stats: SimStats = StatsCounter.#empty();

  static #empty(): SimStats {
    return {
      requests: 0,
      ops: zeroOps(),
      faultsApplied: 0,
      createdIds: [],
      streamsOpened: [],
      webhooks: { delivered: 0, failedAttempts: 0 },
    };
  }

  request(op: SimOp | null): void {
    this.#stats.requests += 1;
    if (op) this.#stats.ops[op] += 1;
  }
  fault(): void {
    this.#stats.faultsApplied += 1;
  }
  created(id: string): void {
    this.#stats.createdIds.push(id);
  }
  streamOpened(id: string, startingAfter: number | null): void {
    this.#stats.streamsOpened.push({ id, startingAfter });
  }
  webhookDelivered(): void {
    this.#stats.webhooks.delivered += 1;
  }
  webhookFailed(): void {
    this.#stats.webhooks.failedAttempts += 1;
  }

  /** A deep copy, so callers can diff snapshots. */
  snapshot(): SimStats {
    const s = this.#stats;
    return {
      ...s,
      ops: { ...s.ops },
      createdIds: [...s.createdIds],
      streamsOpened: [...s.streamsOpened],
      webhooks: { ...s.webhooks },
    };
  }

  reset(): void {
    this.#stats = StatsCounter.#empty();
  }
}
