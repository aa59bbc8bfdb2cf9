/**
 * Target groups (ELBv2) of a fleet's Auto Scaling group: the target-group health gate, and
 * attaching or detaching a group's target groups (blue-green).
 *
 * In the emulator (moto 5.2.5), a group created or updated with `TargetGroupARNs` registers its
 * instances in them, and DescribeTargetHealth reports every registered instance `healthy` at once
 * (with or without a load balancer); an instance that is not registered is `unused`
 * (`Target.NotRegistered`). In AWS a new target is `initial` until it passes the target group's
 * health checks, and a deregistered one is `draining` for the deregistration delay.
 */
import {
  AttachLoadBalancerTargetGroupsCommand,
  DetachLoadBalancerTargetGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { aws } from './errors';
import { autoScaling, loadBalancing } from './clients';

/** AttachLoadBalancerTargetGroups and DetachLoadBalancerTargetGroups take at most 10 target groups per call. */
const TARGET_GROUPS_PER_CALL = 10;
/** DescribeTargetGroups returns at most 400 target groups per page (its PageSize range). */
const TARGET_GROUPS_PER_DESCRIBE = 400;

/** Each instance's target health state in one target group (`healthy`, `initial`, `unused`, `draining`…). */
export async function targetStates(
  targetGroupArn: string,
  instanceIds: readonly string[],
): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  if (instanceIds.length === 0) return states;
  const page = await aws('DescribeTargetHealth', () =>
    loadBalancing().send(
      new DescribeTargetHealthCommand({
        TargetGroupArn: targetGroupArn,
        Targets: instanceIds.map((Id) => ({ Id })),
      }),
    ),
  );
  for (const description of page.TargetHealthDescriptions ?? []) {
    const id = description.Target?.Id;
    if (id === undefined) continue;
    const state = description.TargetHealth?.State ?? 'unavailable';
    // One instance may be registered on several ports: it is healthy only if healthy on every one.
    const previous = states.get(id);
    states.set(id, previous === undefined || previous === 'healthy' ? state : previous);
  }
  return states;
}

/** Where instances stand in a set of target groups (see `targetHealthIn`). */
export interface TargetGroupHealth {
  /** `healthy` in every target group (all of them when there is no target group). */
  readonly healthy: Set<string>;
  /**
   * Not healthy in every target group only because one or more still run their initial health
   * checks (`initial` there, `healthy` in the others): what waits for the target group alone.
   */
  readonly initial: Set<string>;
}

/**
 * Each instance of `instanceIds` `healthy` in every one of `targetGroupArns`, or still `initial`
 * (and healthy elsewhere). One DescribeTargetHealth call per target group, about the instances
 * still either.
 */
export async function targetHealthIn(
  targetGroupArns: readonly string[],
  instanceIds: readonly string[],
): Promise<TargetGroupHealth> {
  const healthy = new Set(instanceIds);
  const initial = new Set<string>();
  for (const arn of targetGroupArns) {
    const asked = [...healthy, ...initial];
    if (asked.length === 0) break;
    const states = await targetStates(arn, asked);
    for (const id of asked) {
      const state = states.get(id);
      if (state === 'healthy') continue;
      healthy.delete(id);
      if (state === 'initial') initial.add(id);
      else initial.delete(id);
    }
  }
  return { healthy, initial };
}

/**
 * The instances (of `instanceIds`) that are `healthy` in every one of `targetGroupArns`: all of
 * them when there is no target group. One DescribeTargetHealth call per target group.
 */
export async function healthyInTargetGroups(
  targetGroupArns: readonly string[],
  instanceIds: readonly string[],
): Promise<Set<string>> {
  return (await targetHealthIn(targetGroupArns, instanceIds)).healthy;
}

/**
 * The shortest health-check interval (seconds) of the target groups, undefined when none reports
 * one: how often their targets' health can change. One DescribeTargetGroups call per 400 groups.
 */
export async function healthCheckIntervalSeconds(
  targetGroupArns: readonly string[],
): Promise<number | undefined> {
  let shortest: number | undefined;
  for (let i = 0; i < targetGroupArns.length; i += TARGET_GROUPS_PER_DESCRIBE) {
    const chunk = targetGroupArns.slice(i, i + TARGET_GROUPS_PER_DESCRIBE);
    const page = await aws('DescribeTargetGroups', () =>
      loadBalancing().send(
        new DescribeTargetGroupsCommand({ TargetGroupArns: chunk, PageSize: TARGET_GROUPS_PER_DESCRIBE }),
      ),
    );
    for (const group of page.TargetGroups ?? []) {
      const interval = group.HealthCheckIntervalSeconds;
      if (interval !== undefined && interval > 0) shortest = Math.min(shortest ?? interval, interval);
    }
  }
  return shortest;
}

/**
 * The instances (of `instanceIds`) still registered (any state but `unused`) in one of
 * `targetGroupArns`: what is still draining after a detach.
 */
export async function stillRegistered(
  targetGroupArns: readonly string[],
  instanceIds: readonly string[],
): Promise<Set<string>> {
  const registered = new Set<string>();
  for (const arn of targetGroupArns) {
    const states = await targetStates(arn, instanceIds);
    for (const [id, state] of states) if (state !== 'unused') registered.add(id);
  }
  return registered;
}

/** Attach target groups to an Auto Scaling group (its instances are registered by Auto Scaling). */
export async function attachTargetGroups(
  groupName: string,
  targetGroupArns: readonly string[],
): Promise<void> {
  for (let i = 0; i < targetGroupArns.length; i += TARGET_GROUPS_PER_CALL) {
    const chunk = targetGroupArns.slice(i, i + TARGET_GROUPS_PER_CALL);
    await aws('AttachLoadBalancerTargetGroups', () =>
      autoScaling().send(
        new AttachLoadBalancerTargetGroupsCommand({
          AutoScalingGroupName: groupName,
          TargetGroupARNs: chunk,
        }),
      ),
    );
  }
}

/** Detach target groups from an Auto Scaling group (its instances are deregistered: they drain). */
export async function detachTargetGroups(
  groupName: string,
  targetGroupArns: readonly string[],
): Promise<void> {
  for (let i = 0; i < targetGroupArns.length; i += TARGET_GROUPS_PER_CALL) {
    const chunk = targetGroupArns.slice(i, i + TARGET_GROUPS_PER_CALL);
    await aws('DetachLoadBalancerTargetGroups', () =>
      autoScaling().send(
        new DetachLoadBalancerTargetGroupsCommand({
          AutoScalingGroupName: groupName,
          TargetGroupARNs: chunk,
        }),
      ),
    );
  }
}
