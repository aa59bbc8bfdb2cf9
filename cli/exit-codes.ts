/**
 * The `phoenix` CLI's exit codes: one table, documented in docs/cli.md. `publish --wait` and
 * `rollback --wait` end with the code of the rollout's outcome.
 */
export const ExitCodes = {
  /** Done; with --wait: the rollout succeeded. */
  ok: 0,
  /** An error (AWS unreachable, a missing resource, a failed call …). */
  failure: 1,
  /** Bad usage: an unknown option, a bad argument, a refused confirmation, a file that is not an event. */
  usage: 2,
  /** With --wait: the rollout was rejected (the image failed its checks; nothing changed). */
  rejected: 3,
  /** With --wait: the rollout failed its gates and was rolled back. */
  rolledBack: 4,
  /** With --wait: the rollout failed and needs a human (RolloutFailed). */
  failed: 5,
  /** With --wait: the wait timed out before the rollout ended. */
  timedOut: 6,
} as const;

export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];
