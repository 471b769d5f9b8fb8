/**
 * One real-time interval shared by every waiting stream: open streams re-check the (possibly manual) clock
 * every ~15 ms without each holding its own timer. The interval only runs while someone waits.
 */
export class Ticker {
  #waiters: Array<() => void> = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(private readonly periodMs = 15) {}

  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      if (!this.#timer) {
        this.#timer = setInterval(() => this.#tick(), this.periodMs);
        this.#timer.unref();
      }
    });
  }

  #tick(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
    if (this.#waiters.length === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  /** Wake everyone (on close) and stop. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
