import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Env } from '../domain/contract';
import {
  attemptStanding,
  MAX_REPLACE_ATTEMPTS,
  replaceAttemptName,
  type ReplaceInput,
} from '../domain/replace';
import type { DrainInput } from '../domain/drain';
import type { RolloutInput } from '../domain/rollout';
import type { ValidateInput } from '../domain/validation';
import { aws, errorName, requireEnv } from './errors';
import { stepFunctions } from './clients';

/**
 * Start a Rollout execution under a deterministic name: a duplicate event starts nothing. Step
 * Functions answers a second start of a running execution (same name, same input) with that
 * execution, and a start of an ended one with ExecutionAlreadyExists (`duplicate: true`).
 */
export async function startRollout(
  name: string,
  input: RolloutInput,
): Promise<{ executionArn?: string; duplicate: boolean }> {
  const result = await start(Env.rolloutStateMachineArn, name, input);
  return 'exists' in result ? { duplicate: true } : result;
}

export interface StartReplaceResult {
  readonly executionArn?: string;
  /** Nothing new started: an attempt is running, or one replaced the instance (or attempts ran out). */
  readonly duplicate: boolean;
  /** The name of the execution started, or of the one that stands for the instance. */
  readonly execution: string;
  /** Which attempt that is (1: the first, `name` itself). */
  readonly attempt: number;
  /** Set when nothing started because every attempt ended without replacing the instance. */
  readonly exhausted?: boolean;
  /** Set when nothing started because the last attempt ended after the caller's look (`observedAt`). */
  readonly stale?: boolean;
}

/**
 * Start a Replace execution under a deterministic name per instance: a duplicate or repeated event
 * for the same instance starts nothing new (`duplicate: true`) while an attempt runs or after one
 * replaced the instance. With `reattempt` (the caller has seen the instance InService in its
 * fleet, at `observedAt`), an attempt that ended WITHOUT replacing it (failed, aborted, timed out,
 * or skipped: the circuit was open, the fleet paused, the instance gone…) is followed by the next
 * attempt, `<name>-2`, `<name>-3`… (see replaceAttemptName; at most MAX_REPLACE_ATTEMPTS in all):
 * Step Functions keeps a name for 90 days, so without it such an instance could never be replaced
 * again. An attempt that ended after `observedAt` knows more than the caller's look (found by the
 * torture run: sweeps slower than their interval, each acting on a look older than the last
 * attempt's end, used up all ten attempts on an instance already gone): it stands, and nothing new
 * starts (`stale: true`); the next look decides. Each step costs a StartExecution and, on
 * ExecutionAlreadyExists, a DescribeExecution of that name.
 */
export async function startReplace(
  name: string,
  input: ReplaceInput,
  options: { reattempt?: boolean; observedAt?: Date } = {},
): Promise<StartReplaceResult> {
  const machine = requireEnv(Env.replaceStateMachineArn);
  for (let attempt = 1; attempt <= MAX_REPLACE_ATTEMPTS; attempt++) {
    const execution = replaceAttemptName(name, attempt);
    const result = await start(Env.replaceStateMachineArn, execution, input);
    if (!('exists' in result)) return { ...result, execution, attempt };
    if (!options.reattempt) return { duplicate: true, execution, attempt };
    const described = await describe(executionArn(machine, execution));
    // Gone meanwhile (should not happen within 90 days): treat as standing.
    if (described === undefined) return { duplicate: true, execution, attempt };
    if (attemptStanding(described.status, described.output) !== 'not-replaced') {
      return { duplicate: true, execution, attempt };
    }
    const { observedAt } = options;
    if (observedAt !== undefined && described.stopDate !== undefined && described.stopDate > observedAt) {
      return { duplicate: true, stale: true, execution, attempt };
    }
  }
  return {
    duplicate: true,
    exhausted: true,
    execution: replaceAttemptName(name, MAX_REPLACE_ATTEMPTS),
    attempt: MAX_REPLACE_ATTEMPTS,
  };
}

/**
 * Start a Drain execution (one termination lifecycle action) under a name derived from the
 * instance and the action's token: a duplicate delivery starts nothing (`duplicate: true`).
 */
export async function startDrain(
  name: string,
  input: DrainInput,
): Promise<{ executionArn?: string; duplicate: boolean }> {
  const result = await start(Env.drainStateMachineArn, name, input);
  return 'exists' in result ? { duplicate: true } : result;
}

/**
 * Start a Validate execution (one image in one channel) under its deterministic name: a repeated
 * publication of the image starts nothing (`duplicate: true`).
 */
export async function startValidate(
  name: string,
  input: ValidateInput,
): Promise<{ executionArn?: string; duplicate: boolean }> {
  const result = await start(Env.validateStateMachineArn, name, input);
  return 'exists' in result ? { duplicate: true } : result;
}

/** `arn:…:stateMachine:<machine>` + name → `arn:…:execution:<machine>:<name>`. */
export function executionArn(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

async function describe(
  arn: string,
): Promise<{ status?: string; output?: string; stopDate?: Date } | undefined> {
  try {
    const result = await aws('DescribeExecution', () =>
      stepFunctions().send(new DescribeExecutionCommand({ executionArn: arn })),
    );
    return {
      ...(result.status !== undefined ? { status: result.status } : {}),
      ...(result.output !== undefined ? { output: result.output } : {}),
      ...(result.stopDate !== undefined ? { stopDate: result.stopDate } : {}),
    };
  } catch (error) {
    if (errorName(error) === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
}

async function start(
  stateMachineArnEnv: string,
  name: string,
  input: RolloutInput | ReplaceInput | DrainInput | ValidateInput,
): Promise<{ executionArn?: string; duplicate: false } | { exists: true }> {
  try {
    const result = await aws('StartExecution', () =>
      stepFunctions().send(
        new StartExecutionCommand({
          stateMachineArn: requireEnv(stateMachineArnEnv),
          name,
          input: JSON.stringify(input),
        }),
      ),
    );
    return {
      ...(result.executionArn !== undefined ? { executionArn: result.executionArn } : {}),
      duplicate: false,
    };
  } catch (error) {
    if (errorName(error) === 'ExecutionAlreadyExists') return { exists: true };
    throw error;
  }
}
