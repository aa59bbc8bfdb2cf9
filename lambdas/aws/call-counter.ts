/**
 * Exact AWS call counts for one unit of work (the reconcile sweep): an SDK middleware on the
 * shared clients counts every HTTP request sent (SDK retries included: it sits after the retry
 * middleware), attributed through AsyncLocalStorage to the unit of work that made it, so calls of
 * other work in the same process (the local runtime runs every handler in one) are not counted.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

type Counts = Record<string, number>;

const storage = new AsyncLocalStorage<Counts>();
const instrumented = new WeakSet<object>();

/** Any SDK v3 client: only its middleware stack is used. */
interface AnyClient {
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: never) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: never) => Promise<unknown>,
      options: { step: 'finalizeRequest'; priority: 'low'; name: string; override: boolean },
    ): void;
  };
}

/** Make `client` count its requests (once per client). */
export function instrument(client: AnyClient): void {
  if (instrumented.has(client)) return;
  instrumented.add(client);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const counts = storage.getStore();
      if (counts !== undefined) {
        const name = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
        counts[name] = (counts[name] ?? 0) + 1;
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'phoenixCallCounter', override: true },
  );
}

/** Run `work` and count the requests it sends through instrumented clients. */
export async function countingCalls<T>(
  clients: readonly AnyClient[],
  work: (counts: Readonly<Counts>) => Promise<T>,
): Promise<{ result: T; calls: Counts }> {
  for (const client of clients) instrument(client);
  const counts: Counts = {};
  const result = await storage.run(counts, () => work(counts));
  return { result, calls: counts };
}

export const totalCalls = (counts: Readonly<Counts>) => Object.values(counts).reduce((a, b) => a + b, 0);
