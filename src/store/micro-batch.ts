/**
 * Micro-batching: calls made in the same turn of the event loop are handed
 * to one handler together on the next turn (setImmediate), so they can share
 * one transaction and one fsync. Used by the SQLite store's session inserts
 * and velocity counts.
 */

/** One call waiting in a batch; the handler settles every entry it is given. */
export interface BatchEntry<In, Out> {
  readonly input: In;
  readonly resolve: (value: Out) => void;
  readonly reject: (e: unknown) => void;
}

/** A queue that runs its handler once per turn of the event loop. */
export interface MicroBatcher<In, Out> {
  /** Queues a call; settles when the handler settles its entry. */
  add(input: In): Promise<Out>;
  /** Runs the handler now on whatever is queued (at close). */
  flush(): void;
}

/** A batcher whose `handle` receives each turn's calls in arrival order. */
export function createMicroBatcher<In, Out>(handle: (batch: BatchEntry<In, Out>[]) => void): MicroBatcher<In, Out> {
  let pending: BatchEntry<In, Out>[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length > 0) handle(batch);
  }

  return {
    add(input) {
      return new Promise<Out>((resolve, reject) => {
        pending.push({ input, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    flush,
  };
}
