/**
 * Drain as ELBv2, SSM and Auto Scaling report and do it: where an instance is registered,
 * deregistration and the target groups' delays, the flush command, the termination lifecycle
 * hook and its completion.
 */
import { CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import {
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetHealthCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { aws, errorName } from './errors';
import { autoScaling, ec2, loadBalancing, ssm } from './clients';

const message = (error: unknown) => String((error as Error | undefined)?.message ?? error);

/**
 * The target groups (of `targetGroupArns`) in which the instance is registered (in any state but
 * `unused`/not registered and `draining`).
 */
export async function targetGroupsHolding(
  targetGroupArns: readonly string[],
  instanceId: string,
): Promise<string[]> {
  const holding: string[] = [];
  for (const arn of targetGroupArns) {
    try {
      const health = await aws('DescribeTargetHealth', () =>
        loadBalancing().send(
          new DescribeTargetHealthCommand({ TargetGroupArn: arn, Targets: [{ Id: instanceId }] }),
        ),
      );
      const registered = (health.TargetHealthDescriptions ?? []).some(
        (d) =>
          d.Target?.Id === instanceId &&
          d.TargetHealth?.State !== 'unused' &&
          d.TargetHealth?.State !== 'draining' &&
          d.TargetHealth?.Reason !== 'Target.NotRegistered',
      );
      if (registered) holding.push(arn);
    } catch (error) {
      // A target group deleted since the group named it: nothing to deregister from.
      if (errorName(error) === 'TargetGroupNotFound' || errorName(error) === 'TargetGroupNotFoundException')
        continue;
      // An instance no longer valid as a target (terminated): not registered.
      if (errorName(error) === 'InvalidTarget' || errorName(error) === 'InvalidTargetException') continue;
      throw error;
    }
  }
  return holding;
}

/** Deregister the instance from one target group (already deregistered: fine). */
export async function deregisterTarget(targetGroupArn: string, instanceId: string): Promise<void> {
  try {
    await aws('DeregisterTargets', () =>
      loadBalancing().send(
        new DeregisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: [{ Id: instanceId }] }),
      ),
    );
  } catch (error) {
    if (errorName(error) === 'InvalidTarget' || errorName(error) === 'InvalidTargetException') return;
    throw error;
  }
}

/** A target group's `deregistration_delay.timeout_seconds` (undefined when the group does not say). */
export async function deregistrationDelay(targetGroupArn: string): Promise<string | undefined> {
  const result = await aws('DescribeTargetGroupAttributes', () =>
    loadBalancing().send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: targetGroupArn })),
  );
  return result.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value;
}

/**
 * Run the flush document on the instance. The command id, or the reason it could not be sent
 * (a missing document, an instance SSM does not manage: the flush fails, the drain goes on).
 */
export async function sendFlush(args: {
  document: string;
  instanceId: string;
  timeoutSeconds: number;
  comment: string;
}): Promise<{ commandId: string } | { failed: string }> {
  try {
    const result = await aws('SendCommand', () =>
      ssm().send(
        new SendCommandCommand({
          DocumentName: args.document,
          InstanceIds: [args.instanceId],
          TimeoutSeconds: args.timeoutSeconds,
          Comment: args.comment.slice(0, 100),
        }),
      ),
    );
    const id = result.Command?.CommandId;
    return id !== undefined ? { commandId: id } : { failed: 'SendCommand returned no command id' };
  } catch (error) {
    if (errorName(error) === 'TransientAwsError') throw error;
    return { failed: `SendCommand ${args.document}: ${errorName(error) ?? 'error'}: ${message(error)}` };
  }
}

/** The status of the flush command on the instance (SSM's; `Pending` while SSM has no invocation yet). */
export async function flushInvocationStatus(commandId: string, instanceId: string): Promise<string> {
  try {
    const result = await aws('GetCommandInvocation', () =>
      ssm().send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId })),
    );
    return result.Status ?? 'Pending';
  } catch (error) {
    // Right after SendCommand, the invocation may not exist yet.
    if (errorName(error) === 'InvocationDoesNotExist') return 'Pending';
    throw error;
  }
}

/** The instance's tags (empty when it no longer exists). */
export async function instanceTags(instanceId: string): Promise<Record<string, string>> {
  try {
    const result = await aws('DescribeInstances', () =>
      ec2().send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })),
    );
    const instance = result.Reservations?.flatMap((r) => r.Instances ?? [])[0];
    return Object.fromEntries((instance?.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  } catch (error) {
    if (errorName(error) === 'InvalidInstanceID.NotFound') return {};
    throw error;
  }
}

/**
 * Complete a termination lifecycle action with CONTINUE. A token that is no longer valid (the
 * action was completed already, or timed out and Auto Scaling went on) is `already-completed`.
 * Throttling surfaces as TransientAwsError (the workflow retries).
 */
export async function completeLifecycleAction(args: {
  groupName: string;
  hookName: string;
  instanceId: string;
  token: string;
}): Promise<'completed' | 'already-completed'> {
  try {
    await aws('CompleteLifecycleAction', () =>
      autoScaling().send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: args.groupName,
          LifecycleHookName: args.hookName,
          InstanceId: args.instanceId,
          LifecycleActionToken: args.token,
          LifecycleActionResult: 'CONTINUE',
        }),
      ),
    );
    return 'completed';
  } catch (error) {
    if (
      errorName(error) === 'ValidationError' &&
      /token|no active lifecycle action|not found/i.test(message(error))
    )
      return 'already-completed';
    throw error;
  }
}
