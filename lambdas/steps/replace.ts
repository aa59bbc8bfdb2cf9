/**
 * The steps of the Replace workflow (EC2 + Auto Scaling + DynamoDB + EventBridge): one instance of
 * a fleet terminated and replaced by a fresh one from the group's launch template, within the
 * fleet's disruption budget. Each step re-reads the real state and is safe to run twice.
 */
import * as clock from '../domain/clock';
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { DetailTypes, Tags } from '../domain/contract';
import { causeMessage, ConfigurationError, ReplacementNotHealthyError } from '../domain/errors';
import {
  disruptionBudget,
  type ReplacementHealth,
  type ReplacementProgress,
  type ReplaceState,
  type ResolvedInstance,
  type SlotState,
} from '../domain/replace';
import { type CheckPacing, countedChecks, nextPace } from '../domain/pacing';
import { type FleetInstance, isPresent, isServing } from '../domain/rollout';
import { ReplaceSteps, RetireInstanceStep, type ReplaceStep } from '../domain/steps';
import {
  describeGroup,
  fleetInstances,
  servingInstances,
  fleetsOfInstances,
  setDesiredCapacity,
  tagInstance,
  tagValue,
  terminateInstance,
  updateGroup,
} from '../aws/fleets';
import { healthCheckIntervalSeconds } from '../aws/load-balancing';
import { putOutcome } from '../aws/outcomes';
import { readFleetRecord } from '../aws/store/fleet-records';
import { acquireSlot, releaseSlot } from '../aws/store/replacement-slots';
import { releaseSlotAndRecord } from '../aws/store/history';
import type { ReplacementOutcome } from '../domain/fleet-record';
import { updateCircuit } from '../aws/circuit';
import {
  CIRCUIT_CAUSES,
  circuitLimit,
  circuitSettings,
  circuitSkipReason,
  DEFAULT_CIRCUIT_THRESHOLD_PERCENT,
  DEFAULT_CIRCUIT_WINDOW_SECONDS,
  evaluateCircuit,
} from '../domain/circuit';

export interface ReplaceStepRequest {
  readonly step: ReplaceStep | typeof RetireInstanceStep;
  readonly execution: string;
  readonly state: ReplaceState;
  /** ReplaceInstance, WaitForReplacement: how many checks before the replacement counts as failed. */
  readonly maxChecks?: number;
  /** ReplaceInstance: the pace of the checks for the surge (domain/pacing.ts); absent: every poll interval. */
  readonly pacing?: CheckPacing;
  /** ReleaseReplacementSlot: the outcome to report. */
  readonly outcome?: string;
}

const DEFAULT_MAX_CHECKS = 40;

function requireInstance(state: ReplaceState): Required<Omit<ResolvedInstance, 'skip'>> {
  const i = state.instance;
  if (
    i?.groupName === undefined ||
    i.desiredCapacity === undefined ||
    i.maxSize === undefined ||
    i.originalInstanceIds === undefined ||
    i.budget === undefined
  ) {
    throw new ConfigurationError('workflow state has no resolved instance: ResolveInstance did not run');
  }
  return { imageId: '', ...i } as Required<Omit<ResolvedInstance, 'skip'>>;
}

/**
 * Why there is nothing left to replace when the instance's group is gone. Found by the torture run
 * (seed 7): a replacement resolved an instance of a blue-green fleet's group, waited for a slot
 * while a rollout held the fleet, and got it after the rollout had retired that group (ForceDelete,
 * its instances with it); ReplaceInstance then failed (ConfigurationError, ReplacementFailed, an
 * ERROR) for what is a handled end.
 */
const groupGone = (groupName: string, instanceId: string) =>
  `Auto Scaling group ${groupName} no longer exists (a rollout or an operator deleted it, with its instances): nothing to replace of ${instanceId}`;

/** Is the instance still a present member of a group of the fleet? Skip (with why) otherwise. */
export async function resolveInstance(request: ReplaceStepRequest): Promise<ResolvedInstance> {
  const { fleet, instanceId } = request.state;
  const managed = (await fleetsOfInstances([instanceId])).get(instanceId);
  if (!managed) {
    return { skip: `instance ${instanceId} is in no managed fleet (unknown, or no longer in a group)` };
  }
  if (managed.fleet !== fleet) {
    return { skip: `instance ${instanceId} is no longer in fleet ${fleet} (now in ${managed.fleet})` };
  }
  // `phoenix pause`: nothing is replaced (nor tainted) until `phoenix resume`, whose reconcile
  // sweep catches up.
  const paused = (await readFleetRecord(fleet))?.paused;
  if (paused !== undefined) {
    return {
      skip: `fleet ${fleet} is paused since ${paused.at} (${paused.reason}): nothing is replaced until phoenix resume ${fleet}`,
    };
  }
  const group = managed.group;
  const instances = await fleetInstances(group);
  const self = instances.find((i) => i.instanceId === instanceId);
  if (!self) return { skip: `instance ${instanceId} is no longer in fleet ${fleet}` };
  if (!isPresent(self)) {
    return { skip: `instance ${instanceId} is already ${self.lifecycleState}: nothing to replace` };
  }
  const desired = group.DesiredCapacity ?? 0;
  const tag = tagValue(group, Tags.disruptionBudget);
  const { budget, invalid } = disruptionBudget(tag, desired);
  if (invalid !== undefined) {
    await putOutcome(DetailTypes.DisruptionBudgetInvalid, {
      fleet,
      groupName: group.AutoScalingGroupName!,
      tag: Tags.disruptionBudget,
      value: tag!, // invalid: the tag is set
      reason: invalid,
      budget,
      execution: request.execution,
    });
  }
  const circuit = circuitSettings(
    { tag: Tags.circuitThreshold, value: tagValue(group, Tags.circuitThreshold) },
    { tag: Tags.circuitWindowSeconds, value: tagValue(group, Tags.circuitWindowSeconds) },
  );
  for (const bad of circuit.invalid) {
    await putOutcome(DetailTypes.CircuitBreakerInvalid, {
      fleet,
      groupName: group.AutoScalingGroupName!,
      ...bad,
      thresholdPercent: circuit.thresholdPercent,
      windowSeconds: circuit.windowSeconds,
      execution: request.execution,
    });
  }
  return {
    groupName: group.AutoScalingGroupName!,
    ...(self.imageId !== undefined ? { imageId: self.imageId } : {}),
    desiredCapacity: desired,
    maxSize: group.MaxSize ?? desired,
    originalInstanceIds: instances.map((i) => i.instanceId),
    budget,
    circuitThresholdPercent: circuit.thresholdPercent,
    circuitWindowSeconds: circuit.windowSeconds,
  };
}

/** Tag the instance `phoenix:tainted=<cause>` at once: a touched server is on record even if it must wait. */
export async function taintInstance(request: ReplaceStepRequest) {
  await tagInstance(request.state.instanceId, Tags.tainted, request.state.cause);
  return { tainted: request.state.cause };
}

/**
 * One slot of the fleet's disruption budget, or not yet (`ReplacementDeferred`, reported once).
 * With a slot: a rollout in progress takes precedence for instances not on its image (slot released);
 * for an instance on its image the replacement waits until the rollout ends (it owns the group's
 * capacity), except a Spot interruption, which never surges.
 */
export async function acquireReplacementSlot(request: ReplaceStepRequest): Promise<SlotState> {
  const { fleet, instanceId } = request.state;
  const resolved = requireInstance(request.state);
  const previous = request.state.slot;
  const attempts = (previous?.attempts ?? 0) + 1;
  const now = clock.now();
  const circuit = await checkCircuit(request, resolved, now);
  if (circuit !== undefined) {
    return {
      acquired: false,
      deferred: previous?.deferred ?? false,
      attempts,
      budget: resolved.budget,
      circuitOpen: true,
      skip: circuit,
    };
  }
  const result = await acquireSlot({
    fleet,
    instanceId,
    execution: request.execution,
    budget: resolved.budget,
    now,
  });
  if (!result.acquired) {
    const deferred = previous?.deferred ?? false;
    if (!deferred) {
      await putOutcome(DetailTypes.ReplacementDeferred, {
        fleet,
        instanceId,
        cause: request.state.cause,
        reason: `the disruption budget of fleet ${fleet} (${resolved.budget}) is in use: ${result.inFlight} replacement(s) in flight`,
        budget: resolved.budget,
        inFlight: result.inFlight,
        execution: request.execution,
      });
    }
    return { acquired: false, deferred: true, attempts, inFlight: result.inFlight, budget: resolved.budget };
  }
  const rollout = result.record.activeRollout;
  if (rollout && resolved.imageId !== rollout.imageId) {
    await releaseSlot({ fleet, instanceId, execution: request.execution, now });
    return {
      acquired: false,
      deferred: previous?.deferred ?? false,
      attempts,
      budget: resolved.budget,
      skip: `left to the rollout in progress (execution ${rollout.execution} rolls ${rollout.imageId}; the instance runs ${resolved.imageId || 'an unknown image'})`,
    };
  }
  if (rollout && request.state.cause !== 'interruption' && rollout.expiresAt * 1000 > now.getTime()) {
    // Found by the torture run: a surge beside a rollout of the same fleet set the group's
    // capacity from its own baseline while the rollout set it from another (the group ended at
    // desired 3, min 4). The rollout owns the capacity: the replacement of an instance on its
    // image waits for the lock to go (the instance is tainted, the sweep finds it if this ends).
    // A Spot interruption does not wait: it terminates without touching the capacity.
    await releaseSlot({ fleet, instanceId, execution: request.execution, now });
    const deferred = previous?.deferred ?? false;
    if (!deferred) {
      await putOutcome(DetailTypes.ReplacementDeferred, {
        fleet,
        instanceId,
        cause: request.state.cause,
        reason: `the rollout in progress (execution ${rollout.execution}, image ${rollout.imageId}) owns the capacity of fleet ${fleet}: the replacement waits for it`,
        budget: resolved.budget,
        inFlight: result.inFlight,
        execution: request.execution,
      });
    }
    return { acquired: false, deferred: true, attempts, inFlight: result.inFlight, budget: resolved.budget };
  }
  return {
    acquired: true,
    deferred: previous?.deferred ?? false,
    attempts,
    inFlight: result.inFlight,
    budget: resolved.budget,
  };
}

/**
 * The fleet's circuit breaker, before each attempt at a slot: a health replacement flags its
 * instance on the fleet record (once); then, if the circuit is open (or this flag opened it), the
 * replacement is skipped (why returned). The decision that opens the circuit reports
 * `FleetCircuitOpen` with the evidence, the one that finds the window cleared `FleetCircuitClosed`.
 */
async function checkCircuit(
  request: ReplaceStepRequest,
  resolved: ResolvedInstance,
  now: Date,
): Promise<string | undefined> {
  const { fleet, instanceId, cause } = request.state;
  const settings = {
    thresholdPercent: resolved.circuitThresholdPercent ?? DEFAULT_CIRCUIT_THRESHOLD_PERCENT,
    windowSeconds: resolved.circuitWindowSeconds ?? DEFAULT_CIRCUIT_WINDOW_SECONDS,
  };
  const limit = circuitLimit(resolved.desiredCapacity ?? 0, settings.thresholdPercent);
  const flag = CIRCUIT_CAUSES.has(cause) && request.state.slot === undefined;
  const decision = await updateCircuit(fleet, now, (state) => {
    const d = evaluateCircuit(
      state,
      now,
      { windowSeconds: settings.windowSeconds, limit },
      flag ? { instanceId, cause, at: now.toISOString() } : undefined,
    );
    const changed = JSON.stringify(d.state) !== JSON.stringify(state ?? { flags: [] });
    return { state: d.state, write: changed && (flag || d.opened || d.closed), result: d };
  });
  if (decision.opened) {
    await putOutcome(DetailTypes.FleetCircuitOpen, {
      fleet,
      reason: `${decision.evidence.length} instance(s) of fleet ${fleet} flagged for health replacement within ${settings.windowSeconds} s, more than ${limit} (${settings.thresholdPercent}% of ${resolved.desiredCapacity ?? 0}): likely systemic; replacing stops`,
      instances: decision.evidence.map((f) => f.instanceId),
      causes: decision.evidence.map((f) => ({ instanceId: f.instanceId, cause: f.cause, at: f.at })),
      windowSeconds: settings.windowSeconds,
      thresholdPercent: settings.thresholdPercent,
      limit,
      openedAt: decision.state.openedAt,
      execution: request.execution,
    });
  } else if (decision.closed) {
    await putOutcome(DetailTypes.FleetCircuitClosed, {
      fleet,
      reason: `no instance of fleet ${fleet} flagged for health replacement within ${settings.windowSeconds} s: the window cleared`,
      execution: request.execution,
    });
  }
  return decision.open ? circuitSkipReason(fleet, decision, settings) : undefined;
}

const isNew = (original: readonly string[]) => (i: FleetInstance) => !original.includes(i.instanceId);

/**
 * Surge first: desired capacity + 1 (absolute, from the capacity remembered before), and once a
 * new instance serves and the group serves its whole desired capacity, the old instance goes with
 * a decrement. When the group's maximum leaves no room and the old instance still serves, the
 * maximum is raised by one for the surge and put back when the old instance is gone (terminating
 * a serving instance first would take the fleet below its floor). Otherwise (another replacement
 * in flight, an instance that no longer serves, or a Spot interruption, which does not wait) the
 * old instance goes without decrement and the group refills. Called again until `done`, each call
 * one check; after `maxChecks` checks: ReplacementNotHealthyError.
 */
export async function replaceInstance(request: ReplaceStepRequest): Promise<ReplacementProgress> {
  const resolved = requireInstance(request.state);
  const { instanceId, cause } = request.state;
  const previous = request.state.replacement;
  const group = await describeGroup(resolved.groupName);
  if (!group) {
    return {
      mode: previous?.mode ?? 'terminate',
      done: false,
      checks: previous?.checks ?? 0,
      skip: groupGone(resolved.groupName, instanceId),
    };
  }
  // Serving as the load balancer sees it (a surge serves once healthy in the target groups).
  const instances = await servingInstances(group);
  const self = instances.find((i) => i.instanceId === instanceId);
  // Surge only when this is the fleet's only replacement in flight: concurrent surges would each
  // set the group's capacity from a different baseline and drift it. The others terminate first
  // (without decrement, within the budget the operator granted) and the group refills.
  const alone = (request.state.slot?.inFlight ?? 1) <= 1;
  const roomy = (group.DesiredCapacity ?? 0) + 1 <= (group.MaxSize ?? 0);
  const serves = self !== undefined && isPresent(self) && isServing(self);
  // Raise the maximum even while a rollout holds the fleet's lock: that rollout waits for the
  // replacements in flight (this one holds a slot until its end) before it reads the capacity, and
  // the maximum is back before this slot is released. Found by the torture run (seed 7): a rollout
  // that took the lock between this replacement's slot and this step made it terminate a serving
  // instance of a fleet with no room to surge, below its floor.
  const raise = previous === undefined && !roomy && serves && cause !== 'interruption' && alone;
  const mode =
    previous?.mode ?? (cause !== 'interruption' && alone && (roomy || raise) ? 'surge' : 'terminate');
  const checks = previous === undefined ? 0 : previous.checks + 1;
  const baseline = previous?.baseline ?? group.DesiredCapacity ?? resolved.desiredCapacity;
  // The group's maximum before the surge (raised by one for it when it left no room).
  const maxBaseline = previous?.maxBaseline ?? group.MaxSize ?? resolved.maxSize;
  const surgeState = mode === 'surge' ? { baseline, maxBaseline } : {};
  if (!self || !isPresent(self)) {
    // Gone by itself (Auto Scaling, an operator) after this surged: take the surge back.
    if (mode === 'surge' && previous !== undefined)
      await takeSurgeBack(resolved.groupName, group, surgeState);
    return { mode, done: true, checks, ...surgeState };
  }
  if (mode === 'terminate') {
    // Drained first (DeregisterInstance, flush), then RetireInstance terminates without decrement.
    return { mode, done: false, retire: true, checks };
  }
  if (previous === undefined) {
    // First call: remember the baseline only, so that a retry of this call cannot surge twice.
    return { mode, done: false, checks, ...surgeState, again: true };
  }
  const target = baseline + 1;
  const current = group.DesiredCapacity ?? 0;
  const present = instances.filter(isPresent);
  const serving = present.filter(isServing);
  const newServing = serving.filter(isNew(resolved.originalInstanceIds));
  if (current >= target && newServing.length > 0 && serving.length >= current) {
    // Drained first (DeregisterInstance, flush), then RetireInstance terminates with a decrement.
    return { mode, done: false, retire: true, checks, ...surgeState };
  }
  const maxChecks = request.maxChecks ?? DEFAULT_MAX_CHECKS;
  if (countedChecks(checks, previous) >= maxChecks) {
    // Nothing changes: the surge goes, the group back to its capacity, the old instance stays. Before
    // any new surge: a retry of this step after the surge was taken back must not surge again.
    const undone = await takeFailedSurgeBack(resolved, group, present, surgeState);
    throw new ReplacementNotHealthyError(
      `after ${checks} checks, no new instance of ${resolved.groupName} is InService and healthy (${serving.length} of ${current} serving); ${instanceId} was left in place${undone}`,
    );
  }
  if (current < target) {
    // Absolute: a retried step surges once. (Raised again if another replacement took it back.)
    if ((group.MaxSize ?? 0) < target) {
      await updateGroup({ groupName: resolved.groupName, maxSize: target, desiredCapacity: target });
    } else {
      await setDesiredCapacity(resolved.groupName, target);
    }
    // Right after the surge, look once more at once (an instance may serve already), then poll.
    if (checks <= 1) return { mode, done: false, checks, ...surgeState, again: true };
    return { mode, done: false, checks, ...surgeState, ...(await pace(request, group, previous, [])) };
  }
  // The surge has booted and waits for its target groups' initial health checks alone: the next
  // check within half a health-check interval (domain/pacing.ts).
  const warming = present
    .filter(isNew(resolved.originalInstanceIds))
    .filter((i) => i.targetsInitial === true);
  return { mode, done: false, checks, ...surgeState, ...(await pace(request, group, previous, warming)) };
}

/** The wait before ReplaceInstance's next check (WaitForNewInstance), when the workflow paces it. */
async function pace(
  request: ReplaceStepRequest,
  group: AutoScalingGroup,
  previous: ReplacementProgress,
  warming: readonly FleetInstance[],
): Promise<Partial<ReplacementProgress>> {
  if (request.pacing === undefined) return {};
  const interval =
    warming.length > 0
      ? (previous.healthCheckIntervalSeconds ??
        (await healthCheckIntervalSeconds(group.TargetGroupARNs ?? [])))
      : undefined;
  return nextPace(request.pacing, previous, interval);
}

/**
 * A surge that never served, taken back before ReplaceInstance gives up: its new instances that do
 * not serve go with a decrement (newest first, as many as the surge added), so the group is back
 * at its baseline without Auto Scaling choosing what to terminate; when the group launched none of
 * them (no new instance in it), the desired capacity goes back to the baseline (nothing to
 * terminate); then the maximum, if the surge raised it. Idempotent: a retried step finds the
 * capacity back and does nothing more. Returns what it did, for the error's message.
 */
async function takeFailedSurgeBack(
  resolved: { groupName: string; originalInstanceIds: readonly string[] },
  group: AutoScalingGroup,
  present: readonly FleetInstance[],
  state: { baseline?: number; maxBaseline?: number },
): Promise<string> {
  if (state.baseline === undefined) return '';
  const extra = Math.max(0, (group.DesiredCapacity ?? 0) - state.baseline);
  const unserved = present
    .filter(isNew(resolved.originalInstanceIds))
    .filter((i) => !isServing(i))
    .sort((a, b) => (b.launchTime?.getTime() ?? 0) - (a.launchTime?.getTime() ?? 0))
    .slice(0, extra);
  for (const instance of unserved) await terminateInstance(instance.instanceId, true);
  let desired = (group.DesiredCapacity ?? 0) - unserved.length;
  if (desired > state.baseline && present.length - unserved.length <= state.baseline) {
    // The surge's instance never came: lowering desired terminates nothing.
    await setDesiredCapacity(resolved.groupName, state.baseline);
    desired = state.baseline;
  }
  const max = group.MaxSize ?? 0;
  const lowerMax = state.maxBaseline !== undefined && max > state.maxBaseline && desired <= state.maxBaseline;
  if (lowerMax) await updateGroup({ groupName: resolved.groupName, maxSize: state.maxBaseline });
  if (unserved.length === 0 && desired === (group.DesiredCapacity ?? 0) && !lowerMax) return '';
  const terminated = unserved.map((i) => i.instanceId);
  return `; the surge was taken back (desired ${desired}${lowerMax ? `, max ${state.maxBaseline}` : ''}${terminated.length > 0 ? `; terminated ${terminated.join(', ')}` : ''})`;
}

/**
 * Take a surge back: the desired capacity to its baseline, then the maximum to what it was (only
 * if the surge raised it). Absolute and idempotent: a retried step does nothing more.
 */
async function takeSurgeBack(
  groupName: string,
  group: AutoScalingGroup,
  state: { baseline?: number; maxBaseline?: number },
): Promise<void> {
  const desired = group.DesiredCapacity ?? 0;
  const max = group.MaxSize ?? 0;
  const lowerDesired = state.baseline !== undefined && desired > state.baseline;
  const lowerMax = state.maxBaseline !== undefined && max > state.maxBaseline;
  if (!lowerDesired && !lowerMax) return;
  await updateGroup({
    groupName,
    ...(lowerDesired ? { desiredCapacity: state.baseline } : {}),
    ...(lowerMax ? { maxSize: state.maxBaseline } : {}),
  });
}

/**
 * After the drain: the old instance goes, tagged `phoenix:drained=<time>` first so that the
 * termination lifecycle hook (if the fleet has one) does not flush it again. Surge: with a
 * decrement; terminate: without (the group refills). Gone by itself meanwhile: a surge is taken back.
 */
export async function retireInstance(request: ReplaceStepRequest): Promise<ReplacementProgress> {
  const resolved = requireInstance(request.state);
  const { instanceId } = request.state;
  const previous = request.state.replacement;
  if (previous === undefined) {
    throw new ConfigurationError('workflow state has no replacement: ReplaceInstance did not run');
  }
  const mode = previous.mode;
  const group = await describeGroup(resolved.groupName);
  // Gone with its group meanwhile: nothing to retire (WaitForReplacement reports the skip).
  if (!group) return { mode, done: true, checks: previous.checks };
  const instances = await fleetInstances(group);
  const self = instances.find((i) => i.instanceId === instanceId);
  const surgeState = {
    baseline: previous.baseline ?? resolved.desiredCapacity,
    ...(previous.maxBaseline !== undefined ? { maxBaseline: previous.maxBaseline } : {}),
  };
  if (!self || !isPresent(self)) {
    if (mode === 'surge') await takeSurgeBack(resolved.groupName, group, surgeState);
    return { mode, done: true, checks: previous.checks };
  }
  await tagInstance(instanceId, Tags.drained, clock.now().toISOString());
  await terminateInstance(instanceId, mode === 'surge');
  if (mode === 'surge' && previous.maxBaseline !== undefined && (group.MaxSize ?? 0) > previous.maxBaseline) {
    // The surge raised the maximum: back to what it was, now that the decrement took desired back.
    await updateGroup({ groupName: resolved.groupName, maxSize: previous.maxBaseline });
  }
  return { mode, done: true, checks: previous.checks };
}

/** Is the old instance gone and the group serving its whole desired capacity? Bounded checks. */
export async function waitForReplacement(request: ReplaceStepRequest): Promise<ReplacementHealth> {
  const resolved = requireInstance(request.state);
  const { instanceId } = request.state;
  const checks = (request.state.health?.checks ?? 0) + 1;
  const group = await describeGroup(resolved.groupName);
  if (!group) return { ready: false, checks, skip: groupGone(resolved.groupName, instanceId) };
  const instances = await servingInstances(group);
  const self = instances.find((i) => i.instanceId === instanceId);
  const gone = !self || !isPresent(self);
  const serving = instances.filter(isServing);
  const desired = group.DesiredCapacity ?? 0;
  const fresh = serving
    .filter(isNew(resolved.originalInstanceIds))
    .sort((a, b) => (b.launchTime?.getTime() ?? 0) - (a.launchTime?.getTime() ?? 0));
  const ready = gone && serving.length >= desired;
  const maxChecks = request.maxChecks ?? DEFAULT_MAX_CHECKS;
  if (!ready && checks >= maxChecks) {
    throw new ReplacementNotHealthyError(
      `after ${checks} checks, ${serving.length} of ${desired} instances of ${resolved.groupName} are InService and healthy${gone ? '' : ` and ${instanceId} is still ${self?.lifecycleState}`}`,
    );
  }
  return {
    ready,
    checks,
    ...(fresh[0] !== undefined ? { replacementInstanceId: fresh[0].instanceId } : {}),
  };
}

const REPORTABLE = new Set<string>([
  DetailTypes.InstanceReplaced,
  DetailTypes.ReplacementFailed,
  DetailTypes.ReplacementSkipped,
]);

/** What the drain did, for the outcome: `{drain: {deregisteredFrom, delaySeconds, flush: {status, reason?}}}`. */
function drainDetail(state: ReplaceState) {
  const drain = state.drain;
  if (drain === undefined) return {};
  const { status, reason, document } = drain.flush;
  return {
    drain: {
      deregisteredFrom: drain.deregisteredFrom,
      delaySeconds: drain.delaySeconds,
      flush: {
        status,
        ...(document !== undefined ? { document } : {}),
        ...(reason !== undefined ? { reason } : {}),
      },
    },
  };
}

/** The replacement history's word for each outcome ReleaseReplacementSlot reports. */
const RECORDED: Readonly<Record<string, ReplacementOutcome>> = {
  [DetailTypes.InstanceReplaced]: 'replaced',
  [DetailTypes.ReplacementFailed]: 'failed',
  [DetailTypes.ReplacementSkipped]: 'skipped',
};

/**
 * Give the slot back (if held), record the replacement on the fleet's replacement history (in the
 * same conditional update) and report how it ended.
 */
export async function releaseReplacementSlot(request: ReplaceStepRequest) {
  const outcome = request.outcome;
  if (outcome === undefined || !REPORTABLE.has(outcome)) {
    throw new ConfigurationError(
      `ReleaseReplacementSlot needs outcome in ${[...REPORTABLE].join(', ')}, got ${String(outcome)}`,
    );
  }
  const { fleet, instanceId, cause, reason, requestId, detectedAt } = request.state;
  const replacement = request.state.health?.replacementInstanceId;
  const error = request.state.error;
  const why =
    outcome === DetailTypes.InstanceReplaced
      ? reason
      : outcome === DetailTypes.ReplacementSkipped
        ? (request.state.slot?.skip ??
          request.state.instance?.skip ??
          request.state.replacement?.skip ??
          request.state.health?.skip ??
          'unknown')
        : error
          ? causeMessage(error.Cause)
          : 'unknown';
  const failedStep = outcome === DetailTypes.ReplacementFailed ? request.state.failedStep : undefined;
  const now = clock.now();
  const { released } = await releaseSlotAndRecord({
    fleet,
    execution: request.execution,
    entry: {
      instanceId,
      cause,
      outcome: RECORDED[outcome]!,
      at: now.toISOString(),
      execution: request.execution,
      ...(request.state.instance?.imageId ? { imageId: request.state.instance.imageId } : {}),
      ...(outcome === DetailTypes.InstanceReplaced && replacement !== undefined
        ? { replacementInstanceId: replacement }
        : {}),
      reason: why,
      ...(failedStep !== undefined ? { step: failedStep } : {}),
    },
    slotAcquired: request.state.slot?.acquired === true,
    now,
  });
  const base = { fleet, instanceId, cause, execution: request.execution, eventId: requestId };
  if (outcome === DetailTypes.InstanceReplaced) {
    await putOutcome(outcome, {
      ...base,
      reason,
      ...(replacement !== undefined ? { replacementInstanceId: replacement } : {}),
      ...(request.state.replacement ? { mode: request.state.replacement.mode } : {}),
      ...drainDetail(request.state),
      ...healTime(detectedAt, now),
    });
  } else if (outcome === DetailTypes.ReplacementSkipped) {
    await putOutcome(outcome, { ...base, reason: why });
  } else {
    await putOutcome(DetailTypes.ReplacementFailed, {
      ...base,
      reason: why,
      error: error?.Error ?? 'unknown',
      ...(failedStep !== undefined ? { step: failedStep } : {}),
      ...drainDetail(request.state),
    });
  }
  return { outcome, released };
}

/** `detectedAt` and the seconds since (time to heal), when the need's time is known and valid. */
function healTime(detectedAt: string | undefined, now: Date): { detectedAt?: string; healSeconds?: number } {
  if (detectedAt === undefined) return {};
  const seen = Date.parse(detectedAt);
  if (!Number.isFinite(seen)) return {};
  return { detectedAt, healSeconds: Math.max(0, Math.round((now.getTime() - seen) / 100) / 10) };
}

const steps: Record<
  ReplaceStep | typeof RetireInstanceStep,
  (request: ReplaceStepRequest) => Promise<unknown>
> = {
  [RetireInstanceStep]: retireInstance,
  [ReplaceSteps.ResolveInstance]: resolveInstance,
  [ReplaceSteps.TaintInstance]: taintInstance,
  [ReplaceSteps.AcquireReplacementSlot]: acquireReplacementSlot,
  [ReplaceSteps.ReplaceInstance]: replaceInstance,
  [ReplaceSteps.WaitForReplacement]: waitForReplacement,
  [ReplaceSteps.ReleaseReplacementSlot]: releaseReplacementSlot,
};

export async function runReplaceStep(request: ReplaceStepRequest): Promise<unknown> {
  const run = steps[request.step];
  if (!run) throw new ConfigurationError(`unknown replace step ${JSON.stringify(request.step)}`);
  return run(request);
}
