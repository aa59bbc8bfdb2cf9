/**
 * The store by aggregate, in one import for callers outside the handlers (CLI, tests, bench):
 * the handlers' own modules import the aggregate they use (so a bundle holds only what it needs).
 */
export * from './fleet-records';
export * from './history';
export * from './holds';
export * from './rollout-slots';
export * from './replacement-slots';
export * from './chaos-claims';
export * from './events';
export { putOutcome } from '../outcomes';
