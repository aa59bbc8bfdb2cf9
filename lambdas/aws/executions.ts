import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Env } from '../domain/contract';
import type { ReplaceInput } from '../domain/replace';
import type { RolloutInput } from '../domain/rollout';
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
  return start(Env.rolloutStateMachineArn, name, input);
}

/**
 * Start a Replace execution under a deterministic name per instance: a duplicate or repeated event
 * for the same instance starts nothing new (`duplicate: true`).
 */
export async function startReplace(
  name: string,
  input: ReplaceInput,
): Promise<{ executionArn?: string; duplicate: boolean }> {
  return start(Env.replaceStateMachineArn, name, input);
}

async function start(
  stateMachineArnEnv: string,
  name: string,
  input: RolloutInput | ReplaceInput,
): Promise<{ executionArn?: string; duplicate: boolean }> {
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
    if (errorName(error) === 'ExecutionAlreadyExists') return { duplicate: true };
    throw error;
  }
}
