/**
 * `phoenix rollback <fleet> [--to <image>] [--wait]`: roll the fleet back onto an image it ran
 * before, through the very Rollout workflow every publication goes through (surge first, batch by
 * batch, gates, rollback on failure), started with `mode: 'rollback'`:
 *
 * - the image comes from the fleet's history only (never from its channel or parameter): without
 *   `--to`, the newest image that succeeded on the fleet other than its desired one (else the
 *   record's previous image); `--to` must name one of those candidates;
 * - ValidateImage lets the image be older than the fleet's (image policy `allowOlder`); every
 *   other rule of the image policy applies;
 * - its commit pins the fleet (`pinnedImage`): publications on the fleet's channel are ignored
 *   until an explicit PublishImage or `phoenix unpin`.
 *
 * The execution's name is derived from the fleet, the image and a request id (`--request-id`,
 * default a random one): the same request started twice starts one execution. The environment says
 * where (see cli/target.ts); the Rollout state machine is `--state-machine-arn` or
 * `$PHOENIX_ROLLOUT_STATE_MACHINE_ARN`.
 */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { Env } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import { type HistoryEntry, rollbackCandidates } from '../lambdas/domain/fleet-record';
import { executionName, type RolloutInput } from '../lambdas/domain/rollout';
import { stepFunctions } from '../lambdas/aws/clients';
import { startRollout } from '../lambdas/aws/executions';
import { readFleetRecord } from '../lambdas/aws/store/fleet-records';
import { EXIT_CODES, exitOfOutcome, type ExitName } from './exit-codes';
import { checkFleetName } from './pause';
import { type Output, readWatchModel, TolerantReader, WatchDisplay, withNote } from './watch';

export const ROLLBACK_CAUSE = 'phoenix rollback';

export interface RollbackOptions {
  /** The image to roll back to (default: the newest candidate). */
  readonly to?: string;
  /** Makes the execution name (default: a random id). */
  readonly requestId?: string;
  /** Wait for the execution to end and report its outcome. */
  readonly wait?: boolean;
  /** With `wait`: give up after this long (default 2 h, the workflow's own timeout). */
  readonly waitTimeoutSeconds?: number;
  /** With `wait`: how often to ask (default 2 s). */
  readonly pollMs?: number;
  /** With `wait`: where the live progress goes (the tree of cli/watch.ts; none: no progress shown). */
  readonly progress?: Output;
  readonly now?: Date;
}

export interface RollbackReport {
  readonly fleet: string;
  /** The fleet's desired image when the rollback started. */
  readonly fromImage: string | null;
  readonly imageId: string;
  /** The images the fleet could be rolled back to, newest first. */
  readonly candidates: readonly string[];
  readonly execution: string;
  readonly executionArn: string;
  /** The same request was started before: nothing new was started. */
  readonly duplicate: boolean;
  readonly requestId: string;
  /** With `wait`: how it ended. */
  readonly result?: {
    readonly status: string;
    /** The history entry the execution recorded, if any. */
    readonly outcome: string | null;
    readonly reason: string | null;
    readonly step: string | null;
    /** The exit it maps to (cli/exit-codes.ts). */
    readonly exit: ExitName;
  };
}

const STATE_MACHINE_ARN = /^(arn:[^:]+:states:[^:]+:\d{12}):stateMachine:([^:]+)$/;

export async function rollbackFleet(fleet: string, options: RollbackOptions = {}): Promise<RollbackReport> {
  checkFleetName(fleet);
  const stateMachineArn = process.env[Env.rolloutStateMachineArn]?.trim();
  const arn = stateMachineArn ? STATE_MACHINE_ARN.exec(stateMachineArn) : null;
  if (!stateMachineArn || arn === null) {
    throw new ConfigurationError(
      `no Rollout state machine${stateMachineArn ? ` (not a state machine ARN: ${stateMachineArn})` : ''}: pass --state-machine-arn <arn> or set ${Env.rolloutStateMachineArn} (the Phoenix stack's output RolloutStateMachineArn)`,
    );
  }
  const record = await readFleetRecord(fleet);
  if (record === undefined) {
    throw new ConfigurationError(
      `Phoenix has no record of fleet ${fleet}: it has never been rolled out, so there is no image to roll back to`,
    );
  }
  if (record.paused !== undefined) {
    throw new ConfigurationError(
      `fleet ${fleet} is paused since ${record.paused.at} (${record.paused.reason}): run phoenix resume ${fleet} first`,
    );
  }
  const now = options.now ?? new Date();
  const lock = record.activeRollout;
  if (lock !== undefined && lock.expiresAt * 1000 > now.getTime()) {
    throw new ConfigurationError(
      `fleet ${fleet} is rolling out ${lock.imageId} (execution ${lock.execution}, since ${lock.startedAt}): wait for it to end, then roll back`,
    );
  }
  const candidates = rollbackCandidates(record);
  const listed = candidates.length > 0 ? candidates.join(', ') : 'none';
  let imageId: string;
  if (options.to !== undefined) {
    const to = options.to.trim();
    if (to === record.desiredImage) {
      throw new ConfigurationError(
        `${to} is already the desired image of fleet ${fleet}; images it can be rolled back to: ${listed}`,
      );
    }
    if (!candidates.includes(to)) {
      throw new ConfigurationError(
        `fleet ${fleet} has not run ${to} before (it is not in its history of succeeded rollouts); images it can be rolled back to: ${listed}`,
      );
    }
    imageId = to;
  } else {
    const first = candidates[0];
    if (first === undefined) {
      throw new ConfigurationError(
        `fleet ${fleet} has no image to roll back to: its history names no succeeded image other than its desired image ${record.desiredImage ?? '(none)'}`,
      );
    }
    imageId = first;
  }

  const requestId = options.requestId?.trim() || randomUUID();
  const execution = executionName(fleet, imageId, `rollback\n${requestId}`);
  const input: RolloutInput = {
    fleet,
    imageId,
    channel: record.channel ?? fleet,
    cause: ROLLBACK_CAUSE,
    requestId,
    mode: 'rollback',
  };
  const started = await startRollout(execution, input);
  const executionArn = started.executionArn ?? `${arn[1]}:execution:${arn[2]}:${execution}`;
  const report: RollbackReport = {
    fleet,
    fromImage: record.desiredImage ?? null,
    imageId,
    candidates,
    execution,
    executionArn,
    duplicate: started.duplicate,
    requestId,
  };
  if (!options.wait) return report;
  const display = options.progress !== undefined ? new WatchDisplay(options.progress, false) : undefined;
  const reader = new TolerantReader(() => readWatchModel(fleet));
  const showProgress = async () => {
    if (display === undefined) return;
    const { value, note } = await reader.next();
    display.show([value], withNote(`Rolling back ${fleet} to ${imageId}`, note));
  };
  try {
    const result = await waitForExecution(fleet, executionArn, execution, options, showProgress);
    await showProgress();
    return { ...report, result: { ...result, exit: resultExit(result) } };
  } finally {
    display?.close();
  }
}

/** The exit of a rollback's result: from its outcome, else (no outcome recorded) failed or timed out. */
function resultExit(result: { status: string; outcome: string | null }): ExitName {
  if (result.outcome !== null) return exitOfOutcome(result.outcome);
  return result.status === WAIT_TIMED_OUT ? 'timedOut' : 'failed';
}

/** The status of a result when `--wait-timeout` ran out first. */
const WAIT_TIMED_OUT = 'WAIT_TIMED_OUT';

/** Is `name` the execution `execution` or one of its continuations (continue-as-new, `-c<n>`)? */
export function inChain(name: string, execution: string): boolean {
  if (name === execution) return true;
  const base = name.replace(/-c\d+$/, '');
  return base !== name && execution.startsWith(base);
}

/**
 * Wait for the rollback to end: its history entry (recorded by the execution or by one of its
 * continuations), or the execution's end without one (aborted, timed out) while no continuation
 * holds the fleet.
 */
async function waitForExecution(
  fleet: string,
  executionArn: string,
  execution: string,
  options: RollbackOptions,
  onPoll: () => Promise<void>,
): Promise<Omit<NonNullable<RollbackReport['result']>, 'exit'>> {
  const deadline = Date.now() + (options.waitTimeoutSeconds ?? 2 * 60 * 60) * 1000;
  const pollMs = options.pollMs ?? 2000;
  for (;;) {
    const record = await readFleetRecord(fleet);
    const entry: HistoryEntry | undefined = [...(record?.imageHistory ?? [])]
      .reverse()
      .find((e) => inChain(e.execution, execution));
    const described = await stepFunctions().send(new DescribeExecutionCommand({ executionArn }));
    const status = described.status ?? 'UNKNOWN';
    if (entry !== undefined) {
      // Only a failed rollout ends FAILED; a handled outcome (rolled back, rejected…) SUCCEEDS. The
      // execution described may be a predecessor (continue-as-new) or not have ended yet.
      const ends = entry.outcome === 'failed' ? 'FAILED' : 'SUCCEEDED';
      return {
        status: entry.execution === execution && status !== 'RUNNING' ? status : ends,
        outcome: entry.outcome,
        reason: entry.reason ?? null,
        step: entry.step ?? null,
      };
    }
    const continued =
      record?.activeRollout !== undefined && inChain(record.activeRollout.execution, execution);
    if (status !== 'RUNNING' && !continued && status !== 'SUCCEEDED') {
      return { status, outcome: null, reason: described.cause ?? described.error ?? null, step: null };
    }
    if (Date.now() > deadline) {
      return {
        status: WAIT_TIMED_OUT,
        outcome: null,
        reason: `execution ${execution} is still running after ${options.waitTimeoutSeconds ?? 7200} s; follow it with phoenix status ${fleet} --watch`,
        step: null,
      };
    }
    await onPoll();
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export function renderRollback(report: RollbackReport): string {
  const lines = [
    `fleet ${report.fleet}: rollback from ${report.fromImage ?? 'unknown'} to ${report.imageId} ${report.duplicate ? 'was already started' : 'started'}: execution ${report.execution}`,
    `  ${report.executionArn}`,
  ];
  if (report.result !== undefined) {
    const r = report.result;
    lines.push(
      r.outcome === 'succeeded'
        ? `succeeded: fleet ${report.fleet} is on ${report.imageId} and pinned to it (phoenix unpin ${report.fleet} releases it)`
        : `ended ${r.status}${r.outcome !== null ? ` (${r.outcome})` : ''}${r.step !== null ? ` at ${r.step}` : ''}${r.reason !== null ? `: ${r.reason}` : ''}`,
    );
    lines.push(`exit ${EXIT_CODES[r.exit].code} (${r.exit})`);
  } else {
    lines.push(`follow it with: phoenix status ${report.fleet}`);
  }
  return lines.join('\n');
}
