import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Env } from '../domain/contract';
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
  try {
    const result = await aws('StartExecution', () =>
      stepFunctions().send(
        new StartExecutionCommand({
          stateMachineArn: requireEnv(Env.rolloutStateMachineArn),
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
