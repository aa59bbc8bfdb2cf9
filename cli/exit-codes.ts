/**
 * The `phoenix` CLI's exit codes, one table a CI pipeline can branch on: every command exits 0, 1
 * or 2; the commands that follow a rollout to its end (`phoenix publish --wait`, `phoenix rollback
 * --wait`, `phoenix status --watch --until-done`) exit with the code of the worst outcome they
 * followed. docs/cli.md documents this table (test/unit/cli-habits.test.ts checks it).
 */
export interface ExitCode {
  readonly code: number;
  /** What it means, one line (the documented table's text). */
  readonly meaning: string;
}

export const EXIT_CODES = {
  succeeded: { code: 0, meaning: 'every rollout followed succeeded (or there was nothing to wait for)' },
  error: {
    code: 1,
    meaning: 'the command itself failed (AWS unreachable, a missing resource, a failed call)',
  },
  usage: {
    code: 2,
    meaning:
      'bad usage: an unknown option, a bad argument, a refused confirmation, a file that is not an event',
  },
  rejected: {
    code: 3,
    meaning: 'a rollout was rejected (image policy, unknown image, older image): nothing changed',
  },
  rolledBack: {
    code: 4,
    meaning: 'a rollout failed and was rolled back: the fleet is on its previous image',
  },
  failed: {
    code: 5,
    meaning: 'a rollout failed and needs a human (RolloutFailed, or its execution ended without an outcome)',
  },
  timedOut: { code: 6, meaning: 'the wait ran out (--timeout) before every rollout ended; they go on' },
  stopped: { code: 7, meaning: 'a rollout stopped at a safe point: superseded by a newer image or paused' },
} as const satisfies Record<string, ExitCode>;

export type ExitName = keyof typeof EXIT_CODES;

/** The exit name of one rollout outcome (a `RolloutOutcome` of the fleet record's history). */
export function exitOfOutcome(outcome: string | null): ExitName {
  switch (outcome) {
    case 'succeeded':
      return 'succeeded';
    case 'rejected':
      return 'rejected';
    case 'rolled-back':
      return 'rolledBack';
    case 'superseded':
    case 'paused':
      return 'stopped';
    default:
      return 'failed';
  }
}

/** Worst first: the exit of several rollouts is that of the worst one. */
const SEVERITY: readonly ExitName[] = [
  'error',
  'usage',
  'failed',
  'timedOut',
  'rolledBack',
  'rejected',
  'stopped',
  'succeeded',
];

/** The exit code of several results: the worst one's (none: succeeded). */
export function worstExit(names: readonly ExitName[]): ExitName {
  for (const name of SEVERITY) if (names.includes(name)) return name;
  return 'succeeded';
}

/** The codes by name, for the commands' own exits. */
export const ExitCodes = {
  ok: EXIT_CODES.succeeded.code,
  failure: EXIT_CODES.error.code,
  usage: EXIT_CODES.usage.code,
  rejected: EXIT_CODES.rejected.code,
  rolledBack: EXIT_CODES.rolledBack.code,
  failed: EXIT_CODES.failed.code,
  timedOut: EXIT_CODES.timedOut.code,
  stopped: EXIT_CODES.stopped.code,
} as const;
