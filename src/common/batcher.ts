interface Waiting<I, O> {
  item: I;
  resolve(result: O): void;
  reject(error: unknown): void;
}

/**
 * Collects items that arrive while earlier batches are being written and writes them together: under load one
 * round trip serves many callers, when idle an item is written at once (no timer, no added latency). `flush`
 * returns one result per item, in order; if it throws, every caller of that batch gets the error, unless
 * `isolate` says the error may come from one item's data: then each item is written again on its own, so only
 * the callers whose items fail get an error.
 */
export class Batcher<I, O> {
  private readonly queue: Array<Waiting<I, O>> = [];
  private inFlight = 0;

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly options: { maxBatch: number; maxInFlight: number; isolate?: (error: unknown) => boolean },
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.inFlight >= this.options.maxInFlight || !this.queue.length) return;
    const batch = this.queue.splice(0, this.options.maxBatch);
    this.inFlight += 1;
    this.flush(batch.map((waiting) => waiting.item))
      .then(
        (results) => batch.forEach((waiting, index) => waiting.resolve(results[index])),
        (error) => this.failed(batch, error),
      )
      .finally(() => {
        this.inFlight -= 1;
        this.next();
      });
  }

  private async failed(batch: Array<Waiting<I, O>>, error: unknown): Promise<void> {
    if (batch.length === 1 || !this.options.isolate?.(error)) {
      batch.forEach((waiting) => waiting.reject(error));
      return;
    }
    // One after the other, in the batch's slot: a failed batch of hundreds must not take hundreds of connections.
    for (const waiting of batch) {
      await this.flush([waiting.item]).then(([result]) => waiting.resolve(result), waiting.reject);
    }
  }
}
