/**
 * The drain steps (ELBv2 + SSM + Auto Scaling + EventBridge), served by the `drain` function:
 *
 * - in the Replace workflow, before the old instance goes: DeregisterInstance (from every target
 *   group of its group that holds it; the longest deregistration delay is waited by the workflow,
 *   not for a Spot interruption), then the flush window (StartFlush, CheckFlush);
 * - in the Drain workflow (termination lifecycle hook `phoenix-drain`, for terminations Phoenix did
 *   not drain itself): ResolveLifecycleAction, the same flush, CompleteLifecycleAction (CONTINUE).
 *
 * A flush never blocks: one that cannot be sent, fails or times out is reported in the outcome.
 * Each step re-reads the real state and is safe to run twice.
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { DetailTypes, Tags } from '../domain/contract';
import {
  type DrainInput,
  type DrainState,
  type FlushSettings,
  type FlushState,
  flushSettings,
  flushStatusOf,
  flushTimedOut,
  flushTimeoutFor,
  FLUSH_POLL_SECONDS,
  longestDelay,
} from '../domain/drain';
import { causeMessage, ConfigurationError } from '../domain/errors';
import type { ReplaceState } from '../domain/replace';
import { DrainSteps, type DrainStep } from '../domain/steps';
import { describeGroup, tagValue } from '../aws/fleets';
import {
  completeLifecycleAction,
  deregisterTarget,
  deregistrationDelay,
  flushInvocationStatus,
  instanceTags,
  sendFlush,
  targetGroupsHolding,
} from '../aws/drain';
import { putOutcome } from '../aws/outcomes';

/** The state of either workflow, as far as the drain steps read it. */
export type DrainWorkflowState = Partial<ReplaceState> &
  Partial<DrainInput> & {
    readonly instanceId: string;
    readonly drain?: DrainState & { readonly fleet?: string; readonly drained?: boolean };
    readonly error?: { readonly Error?: string; readonly Cause?: string };
  };

export interface DrainStepRequest {
  readonly step: DrainStep;
  readonly execution: string;
  readonly state: DrainWorkflowState;
  /** StartFlush, CheckFlush: the workflow's wait between two checks (default FLUSH_POLL_SECONDS). */
  readonly pollSeconds?: number;
}

/** The flush as planned from the group's tags (status `None` without a document). */
async function planFlush(
  group: AutoScalingGroup,
  request: DrainStepRequest,
  interruption: boolean,
): Promise<FlushState> {
  const settings: FlushSettings = flushSettings(
    tagValue(group, Tags.flushDocument),
    tagValue(group, Tags.flushTimeoutSeconds),
  );
  if (settings.invalid !== undefined) {
    await putOutcome(DetailTypes.DrainSettingInvalid, {
      ...(tagValue(group, Tags.fleet) !== undefined ? { fleet: tagValue(group, Tags.fleet) } : {}),
      groupName: group.AutoScalingGroupName!,
      instanceId: request.state.instanceId,
      tag: Tags.flushTimeoutSeconds,
      value: tagValue(group, Tags.flushTimeoutSeconds),
      document: tagValue(group, Tags.flushDocument),
      reason: settings.invalid,
      timeoutSeconds: settings.timeoutSeconds,
      execution: request.execution,
    });
  }
  const note = settings.invalid !== undefined ? { reason: settings.invalid } : {};
  if (settings.document === undefined) return { status: 'None', ...note };
  const timeoutSeconds = flushTimeoutFor(settings, interruption);
  return {
    status: 'Pending',
    document: settings.document,
    timeoutSeconds,
    polls: 0,
    ...(interruption && timeoutSeconds < settings.timeoutSeconds
      ? { reason: `Spot interruption: the flush is capped at ${timeoutSeconds} s` }
      : note),
  };
}

/**
 * Replace workflow: take the instance out of every target group of its group that holds it, and
 * say how long to wait (the longest deregistration delay; 0 for a Spot interruption, which leaves
 * two minutes) and which flush to run.
 */
export async function deregisterInstance(request: DrainStepRequest): Promise<DrainState> {
  const { instanceId, cause } = request.state;
  const groupName = request.state.instance?.groupName;
  if (groupName === undefined)
    throw new ConfigurationError('workflow state has no resolved instance: ResolveInstance did not run');
  const group = await describeGroup(groupName);
  if (!group) throw new ConfigurationError(`Auto Scaling group ${groupName} no longer exists`);
  const interruption = cause === 'interruption';
  const holding = await targetGroupsHolding(group.TargetGroupARNs ?? [], instanceId);
  for (const arn of holding) await deregisterTarget(arn, instanceId);
  const delays: (string | undefined)[] = [];
  for (const arn of holding) delays.push(await deregistrationDelay(arn));
  const longest = longestDelay(delays);
  return {
    deregisteredFrom: holding,
    delaySeconds: interruption ? 0 : longest,
    deregistrationDelaySeconds: longest,
    flush: await planFlush(group, request, interruption),
  };
}

function requireFlush(request: DrainStepRequest): FlushState {
  const flush = request.state.drain?.flush;
  if (flush === undefined)
    throw new ConfigurationError(`${request.step}: the workflow state has no drain.flush`);
  return flush;
}

/** Send the flush document to the instance (once: a flush already sent is returned as it is). */
export async function startFlush(request: DrainStepRequest): Promise<FlushState> {
  const flush = requireFlush(request);
  if (flush.status !== 'Pending' || flush.document === undefined) return flush;
  const sent = await sendFlush({
    document: flush.document,
    instanceId: request.state.instanceId,
    timeoutSeconds: flush.timeoutSeconds ?? 120,
    comment: `phoenix drain ${request.execution}`,
  });
  if ('failed' in sent) return { ...flush, status: 'Failed', reason: sent.failed };
  return { ...flush, status: 'Running', commandId: sent.commandId, polls: 0 };
}

/** One check of a running flush: ended (its SSM status), still running, or timed out (by polls). */
export async function checkFlush(request: DrainStepRequest): Promise<FlushState> {
  const flush = requireFlush(request);
  if (flush.status !== 'Running' || flush.commandId === undefined) return flush;
  const polls = (flush.polls ?? 0) + 1;
  const status = flushStatusOf(await flushInvocationStatus(flush.commandId, request.state.instanceId));
  if (status !== 'Running') {
    return {
      ...flush,
      status,
      polls,
      ...(status !== 'Success' ? { reason: `the flush command ended ${status}` } : {}),
    };
  }
  const timeout = flush.timeoutSeconds ?? 120;
  if (flushTimedOut(polls, timeout, request.pollSeconds ?? FLUSH_POLL_SECONDS)) {
    return { ...flush, status: 'TimedOut', polls, reason: `the flush did not end within ${timeout} s` };
  }
  return { ...flush, polls };
}

function requireAction(state: DrainWorkflowState): DrainInput {
  const { instanceId, groupName, hookName, token, requestId } = state;
  if (groupName === undefined || hookName === undefined || token === undefined) {
    throw new ConfigurationError('Drain workflow input needs instanceId, groupName, hookName and token');
  }
  return { instanceId, groupName, hookName, token, requestId: requestId ?? 'unknown' };
}

/**
 * Drain workflow: is there anything to do before the instance goes? Nothing when Phoenix drained it
 * itself (tag `phoenix:drained`) or the group names no flush document; else the flush to run.
 * No deregistration: Auto Scaling deregisters a terminating instance itself.
 */
export async function resolveLifecycleAction(
  request: DrainStepRequest,
): Promise<DrainState & { fleet?: string; drained: boolean }> {
  const action = requireAction(request.state);
  const tags = await instanceTags(action.instanceId);
  const group = await describeGroup(action.groupName);
  const fleet = group ? tagValue(group, Tags.fleet) : undefined;
  const base = { deregisteredFrom: [], delaySeconds: 0, ...(fleet !== undefined ? { fleet } : {}) };
  const drainedAt = tags[Tags.drained];
  if (drainedAt !== undefined && drainedAt !== '') {
    return {
      ...base,
      drained: true,
      flush: { status: 'Skipped', reason: `Phoenix drained the instance itself at ${drainedAt}` },
    };
  }
  if (!group) {
    return {
      ...base,
      drained: false,
      flush: { status: 'Skipped', reason: `group ${action.groupName} not found` },
    };
  }
  return { ...base, drained: false, flush: await planFlush(group, request, false) };
}

/** Drain workflow: let Auto Scaling go on (CONTINUE), whatever the flush did, and report it. */
export async function completeAction(request: DrainStepRequest) {
  const action = requireAction(request.state);
  const lifecycleAction = await completeLifecycleAction(action);
  const drain = request.state.drain;
  const flush = drain?.flush ?? { status: 'Skipped' as const, reason: 'no drain state' };
  await putOutcome(DetailTypes.InstanceDrained, {
    ...(drain?.fleet !== undefined ? { fleet: drain.fleet } : {}),
    groupName: action.groupName,
    instanceId: action.instanceId,
    hook: action.hookName,
    flush: { status: flush.status, ...(flush.reason !== undefined ? { reason: flush.reason } : {}) },
    lifecycleAction,
    reason: `termination lifecycle action of ${action.hookName}: flush ${flush.status}, action ${lifecycleAction}`,
    execution: request.execution,
    eventId: action.requestId,
  });
  return { lifecycleAction };
}

/** Drain workflow: the lifecycle action could not be completed (Auto Scaling goes on at the heartbeat timeout). */
export async function reportDrainFailed(request: DrainStepRequest) {
  const { instanceId, groupName, hookName, requestId } = request.state;
  const error = request.state.error;
  // The Drain workflow's input (the lifecycle action) carries the group, the hook and the request id.
  await putOutcome(DetailTypes.DrainFailed, {
    ...(request.state.drain?.fleet !== undefined ? { fleet: request.state.drain.fleet } : {}),
    groupName: groupName!,
    instanceId,
    hook: hookName!,
    reason: `${error ? causeMessage(error.Cause) : 'unknown'}; Auto Scaling continues the termination when the hook's heartbeat times out (default result CONTINUE)`,
    error: error?.Error ?? 'unknown',
    execution: request.execution,
    eventId: requestId!,
  });
  return { reported: true };
}

const steps: Record<DrainStep, (request: DrainStepRequest) => Promise<unknown>> = {
  [DrainSteps.DeregisterInstance]: deregisterInstance,
  [DrainSteps.StartFlush]: startFlush,
  [DrainSteps.CheckFlush]: checkFlush,
  [DrainSteps.ResolveLifecycleAction]: resolveLifecycleAction,
  [DrainSteps.CompleteLifecycleAction]: completeAction,
  [DrainSteps.ReportDrainFailed]: reportDrainFailed,
};

export async function runDrainStep(request: DrainStepRequest): Promise<unknown> {
  const run = steps[request.step];
  if (!run) throw new ConfigurationError(`unknown drain step ${JSON.stringify(request.step)}`);
  return run(request);
}
