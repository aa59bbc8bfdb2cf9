/**
 * Which handler is running, for tools that watch the handlers' AWS calls from outside (the IAM
 * must-allow recording of the test suite). The local runtime runs every handler in one process;
 * `inHandlerContext` runs one invocation inside an AsyncLocalStorage context that names its
 * handler, so a call made anywhere below it can be attributed to that handler's role.
 *
 * Off by default: until `enableHandlerContext()` is called, `inHandlerContext` just calls `work`
 * (no AsyncLocalStorage, no cost). Handlers never import this module.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface HandlerContext {
  /** The `phoenix:handler` name of the function being invoked (`rollout-fleet`, `intake`, ...). */
  readonly handler: string;
}

const storage = new AsyncLocalStorage<HandlerContext>();
let enabled = false;

/** Start naming invocations (idempotent). */
export function enableHandlerContext(): void {
  enabled = true;
}

/** Run `work` as an invocation of `handler` (only named while enabled). */
export function inHandlerContext<T>(handler: string, work: () => T): T {
  return enabled ? storage.run({ handler }, work) : work();
}

/** The handler whose invocation is running here, if naming is enabled and one is. */
export function currentHandler(): string | undefined {
  return storage.getStore()?.handler;
}
