import { Batcher } from './batcher';

describe('Batcher', () => {
  it('writes the first item at once and the ones arriving meanwhile together, answering each caller with its own result', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const firstDone = new Promise<void>((resolve) => (release = resolve));
    const batcher = new Batcher<number, string>(
      async (items) => {
        batches.push(items);
        if (batches.length === 1) await firstDone;
        return items.map((item) => `r${item}`);
      },
      { maxBatch: 10, maxInFlight: 1 },
    );
    const first = batcher.add(1);
    const rest = [2, 3, 4].map((item) => batcher.add(item));
    release();
    expect(await Promise.all([first, ...rest])).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('fails every caller of a failed batch and keeps serving later ones', async () => {
    let fail = true;
    const batcher = new Batcher<number, number>(
      async (items) => {
        if (fail) throw new Error('database down');
        return items;
      },
      { maxBatch: 10, maxInFlight: 1 },
    );
    await expect(batcher.add(1)).rejects.toThrow('database down');
    fail = false;
    await expect(batcher.add(2)).resolves.toBe(2);
  });

  it('writes the items of a batch that failed for the data of one item again one by one, failing only its caller', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const firstDone = new Promise<void>((resolve) => (release = resolve));
    const batcher = new Batcher<number, number>(
      async (items) => {
        batches.push(items);
        if (batches.length === 1) await firstDone;
        if (items.includes(13)) throw Object.assign(new Error('bad data'), { code: '22P05' });
        return items;
      },
      { maxBatch: 10, maxInFlight: 1, isolate: (error) => (error as { code?: string }).code === '22P05' },
    );
    const first = batcher.add(1);
    const rest = [12, 13, 14].map((item) => batcher.add(item).then(String, (error: Error) => error.message));
    release();
    expect(await Promise.all([first, ...rest])).toEqual([1, '12', 'bad data', '14']);
    expect(batches).toEqual([[1], [12, 13, 14], [12], [13], [14]]);
  });

  it('fails the whole batch when the error is not about its items', async () => {
    const batcher = new Batcher<number, number>(
      async () => {
        throw new Error('connection lost');
      },
      { maxBatch: 10, maxInFlight: 1, isolate: () => false },
    );
    const results = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
  });

  it('splits at maxBatch', async () => {
    const sizes: number[] = [];
    const batcher = new Batcher<number, number>(
      async (items) => {
        sizes.push(items.length);
        await new Promise((resolve) => setImmediate(resolve));
        return items;
      },
      { maxBatch: 3, maxInFlight: 1 },
    );
    await Promise.all(Array.from({ length: 8 }, (_, index) => batcher.add(index)));
    expect(sizes).toEqual([1, 3, 3, 1]);
  });
});
