interface Waiter {
  readonly start: () => void;
}

/**
 * Runs tasks with a fixed concurrency and a bounded number of waiters. A task that was started
 * keeps its slot until it settles, even if its caller gave up: the model context it drives is
 * busy until then, and starting the next task earlier would run two on one context.
 */
export class BoundedQueue {
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    /** Waiters allowed besides the running tasks; 0 means "reject whenever busy". */
    private readonly limit: number,
    /** Builds the error a caller gets when the queue is full. */
    private readonly onFull: (limit: number) => Error,
    private readonly concurrency = 1,
  ) {}

  /** Tasks running plus tasks waiting. */
  get size(): number {
    return this.active + this.waiting.length;
  }

  /** Runs `task` when a slot frees; rejects at once when full, and with `signal.reason` on abort. */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active >= this.concurrency && this.waiting.length >= this.limit) {
      return Promise.reject(this.onFull(this.limit));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          this.active++;
          let settled: Promise<T>;
          try {
            settled = task();
          } catch (error) {
            settled = Promise.reject(error);
          }
          settled
            .then(resolve, reject)
            .finally(() => {
              signal?.removeEventListener('abort', onAbort);
              this.active--;
              this.next();
            })
            .catch(() => undefined);
        },
      };
      const onAbort = (): void => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.active < this.concurrency) waiter.start();
      else this.waiting.push(waiter);
    });
  }

  private next(): void {
    while (this.active < this.concurrency) {
      const waiter = this.waiting.shift();
      if (waiter === undefined) return;
      waiter.start();
    }
  }
}
