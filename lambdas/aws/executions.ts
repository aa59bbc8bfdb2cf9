import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Env } from '../domain/contract';
import type { RolloutInput } from '../domain/rollout';
import { aws, errorName, requireEnv } from './errors';
import { stepFunctions } from './clients';

/**
 * Start a Rollout execution under a deterministic name. Step Functions refuses a second execution
 * of the same name (and returns the first for the same input): a duplicate event starts nothing.
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
    return { ...(result.executionArn !== undefined ? { executionArn: result.executionArn } : {}), duplicate: false };
  } catch (error) {
    if (errorName(error) === 'ExecutionAlreadyExists') return { duplicate: true };
    throw error;
  }
}
