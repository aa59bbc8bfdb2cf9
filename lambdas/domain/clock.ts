/**
 * The one clock of the handlers: every step that needs "now" (deadlines, locks, slots, claims,
 * history) reads it here. Tests replace it with `setClock` and restore it with `resetClock`.
 *
 * Pure module: no SDK imports.
 */

const systemClock = (): Date => new Date();

let current: () => Date = systemClock;

/** The current time (the system's, unless a test replaced the clock). */
export function now(): Date {
  return current();
}

/** Test only: replace the clock (e.g. `setClock(() => new Date(t0))`). */
export function setClock(clock: () => Date): void {
  current = clock;
}

/** Test only: back to the system clock. */
export function resetClock(): void {
  current = systemClock;
}
