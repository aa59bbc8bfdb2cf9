/**
 * Importing the handler modules, all at start (a broken handler fails the start, not the first
 * event): each with its own per-function variables set while it loads.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LocalLogger } from '../log';
import type { LocalFunction } from '../template';
import { type EnvironmentChanges, setEnv } from './environment';
import { type Handler, HandlerModuleError } from './types';

/** Each function's handler, by logical ID, from `<handlersDir>/<handler>.ts`; throws HandlerModuleError. */
export async function loadHandlers(
  functions: readonly LocalFunction[],
  handlersDir: string,
  perFunction: ReadonlyMap<string, Readonly<Record<string, string>>>,
  changes: EnvironmentChanges,
  log: LocalLogger,
): Promise<Map<string, Handler>> {
  const handlers = new Map<string, Handler>();
  for (const fn of functions) {
    const file = path.join(handlersDir, `${fn.handler}.ts`);
    const started = Date.now();
    handlers.set(fn.logicalId, await loadHandler(fn, file, perFunction.get(fn.logicalId) ?? {}, changes));
    log.debug('handler loaded', { function: fn.name, module: file, ms: Date.now() - started });
  }
  return handlers;
}

async function loadHandler(
  fn: LocalFunction,
  file: string,
  own: Readonly<Record<string, string>>,
  changes: EnvironmentChanges,
): Promise<Handler> {
  if (!existsSync(file)) {
    throw new HandlerModuleError(
      `Function ${fn.logicalId} names handler ${JSON.stringify(fn.handler)}, but ${file} does not exist`,
    );
  }
  const saved = Object.fromEntries(Object.keys(own).map((key) => [key, process.env[key]]));
  for (const [key, value] of Object.entries(own)) setEnv(changes, key, value);
  let loaded: unknown;
  try {
    loaded = await loadModule(file);
  } catch (error) {
    throw new HandlerModuleError(`Could not load ${file} (function ${fn.logicalId}): ${describe(error)}`, {
      cause: error,
    });
  } finally {
    for (const [key, value] of Object.entries(saved)) setEnv(changes, key, value);
  }
  const handler = findHandler(loaded);
  if (handler === undefined) {
    throw new HandlerModuleError(`${file} (function ${fn.logicalId}) exports no function named "handler"`);
  }
  return handler;
}

function findHandler(loaded: unknown): Handler | undefined {
  const mod = loaded as { handler?: unknown; default?: { handler?: unknown } } | undefined;
  if (typeof mod?.handler === 'function') return mod.handler as Handler;
  if (typeof mod?.default?.handler === 'function') return mod.default.handler as Handler;
  return undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Load a handler module from its TypeScript source: through `require` where a TypeScript hook for
 * require is registered (the `phoenix` CLI registers tsx's), else through `import()` (vitest
 * transforms what it imports).
 */
async function loadModule(file: string): Promise<unknown> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (require.extensions['.ts'] !== undefined) return require(file) as unknown;
  return import(pathToFileURL(file).href);
}
