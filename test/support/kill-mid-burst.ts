/**
 * SIGKILL in the middle of a burst, for the durability tests: `workers`
 * callers send requests to a real server process, and once `killAfter`
 * answers were acknowledged the process is killed while the others are still
 * in flight. A failure before the kill is the test's failure; after it, a
 * request that gets no answer was cut off.
 */
import type { ServerProcess } from "./server-process.js";

/** What the burst saw: the acknowledged items, and how many requests the kill cut off. */
export interface Burst<T> {
  readonly acked: T[];
  readonly cutOff: number;
}

/**
 * Runs the burst. `send` makes one request and resolves with what it
 * acknowledged (rejecting on any other answer), or returns undefined when
 * there is nothing left to send.
 */
export async function killMidBurst<T>(
  server: ServerProcess,
  options: { readonly workers: number; readonly killAfter: number; readonly send: () => Promise<T> | undefined },
): Promise<Burst<T>> {
  const acked: T[] = [];
  let cutOff = 0;
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    server.child.kill("SIGKILL");
  };
  const worker = async () => {
    for (;;) {
      const answer = options.send();
      if (answer === undefined) return;
      try {
        acked.push(await answer);
        if (acked.length >= options.killAfter) kill();
      } catch (e) {
        if (!killed) {
          // Unexpected: stop every worker, then fail.
          kill();
          throw e;
        }
        cutOff++;
        return; // the server is gone: this request was cut off
      }
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  return { acked, cutOff };
}
