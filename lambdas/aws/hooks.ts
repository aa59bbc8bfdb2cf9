/**
 * The termination lifecycle hook `phoenix-drain` on a group (the reconcile sweep installs it on
 * groups tagged `phoenix:flush-document` and removes it when the tag goes), and the group tag
 * `phoenix:drain-hook=<heartbeat>` that records it (so a sweep needs no call per group to know).
 * Auto Scaling only.
 */
import {
  CreateOrUpdateTagsCommand,
  DeleteLifecycleHookCommand,
  DeleteTagsCommand,
  DescribeLifecycleHooksCommand,
  PutLifecycleHookCommand,
} from '@aws-sdk/client-auto-scaling';
import { DRAIN_HOOK_NAME, Tags } from '../domain/contract';
import { aws, errorName } from './errors';
import { autoScaling } from './clients';

const groupTag = (groupName: string) => ({
  ResourceId: groupName,
  ResourceType: 'auto-scaling-group',
  Key: Tags.drainHook,
});

/** The heartbeat of the group's hook `phoenix-drain` (undefined: no such hook). */
export async function drainHookHeartbeat(groupName: string): Promise<number | undefined> {
  const result = await aws('DescribeLifecycleHooks', () =>
    autoScaling().send(
      new DescribeLifecycleHooksCommand({
        AutoScalingGroupName: groupName,
        LifecycleHookNames: [DRAIN_HOOK_NAME],
      }),
    ),
  );
  const hook = result.LifecycleHooks?.find((h) => h.LifecycleHookName === DRAIN_HOOK_NAME);
  return hook === undefined ? undefined : (hook.HeartbeatTimeout ?? 3600);
}

/** Create or update the termination hook (CONTINUE by default). */
export async function putDrainHook(groupName: string, heartbeatSeconds: number): Promise<void> {
  await aws('PutLifecycleHook', () =>
    autoScaling().send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: groupName,
        LifecycleHookName: DRAIN_HOOK_NAME,
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: heartbeatSeconds,
        DefaultResult: 'CONTINUE',
      }),
    ),
  );
}

/** Record the hook on the group (tag `phoenix:drain-hook=<heartbeat>`, not propagated). */
export async function recordDrainHook(groupName: string, heartbeatSeconds: number): Promise<void> {
  await aws('CreateOrUpdateTags', () =>
    autoScaling().send(
      new CreateOrUpdateTagsCommand({
        Tags: [{ ...groupTag(groupName), Value: String(heartbeatSeconds), PropagateAtLaunch: false }],
      }),
    ),
  );
}

/** Remove the termination hook (already gone: fine) and its record on the group. */
export async function removeDrainHook(groupName: string): Promise<void> {
  try {
    await aws('DeleteLifecycleHook', () =>
      autoScaling().send(
        new DeleteLifecycleHookCommand({
          AutoScalingGroupName: groupName,
          LifecycleHookName: DRAIN_HOOK_NAME,
        }),
      ),
    );
  } catch (error) {
    if (!(errorName(error) === 'ValidationError' && /not found|does not exist/i.test(String(error))))
      throw error;
  }
  await aws('DeleteTags', () => autoScaling().send(new DeleteTagsCommand({ Tags: [groupTag(groupName)] })));
}
