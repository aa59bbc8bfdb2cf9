/**
 * The outcome detail shapes at run time: every outcome detail-type with its detail's fields (JSON
 * type, optional or not, one line of description), for the docs to be generated from or checked
 * against. The compiler checks OUTCOME_SHAPES against the interfaces of contract.ts (OutcomeDetails):
 * the same detail-types, the same field names, optional exactly where the interface is, the same
 * JSON types. Not imported by the handlers (their bundles need only the types).
 *
 * Pure module: no SDK imports.
 */
import type { OutcomeDetails, OutcomeType } from './contract';

type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];
type RequiredKeys<T> = Exclude<keyof T, OptionalKeys<T>>;
type TypeName<V> = V extends string
  ? 'string'
  : V extends number
    ? 'number'
    : V extends boolean
      ? 'boolean'
      : V extends readonly unknown[]
        ? 'list'
        : 'map';

/** One field of an outcome's detail, described: its JSON type, whether it may be absent, what it holds. */
export interface OutcomeField {
  readonly type: 'string' | 'number' | 'boolean' | 'list' | 'map';
  readonly optional?: boolean;
  readonly description: string;
}

/** The description of `T`'s fields: every key of T, `optional: true` exactly on its optional ones. */
type FieldsOf<T> = {
  readonly [K in RequiredKeys<T>]-?: {
    readonly type: TypeName<T[K]>;
    readonly optional?: false;
    readonly description: string;
  };
} & {
  readonly [K in OptionalKeys<T>]-?: {
    readonly type: TypeName<NonNullable<T[K]>>;
    readonly optional: true;
    readonly description: string;
  };
};

export interface OutcomeShape<T = Record<string, unknown>> {
  /** When the outcome is put on the bus (one line). */
  readonly description: string;
  readonly fields: FieldsOf<T>;
}

const str = (description: string) => ({ type: 'string', description }) as const;
const num = (description: string) => ({ type: 'number', description }) as const;
const bool = (description: string) => ({ type: 'boolean', description }) as const;
const list = (description: string) => ({ type: 'list', description }) as const;
const map = (description: string) => ({ type: 'map', description }) as const;
const opt = <F extends { readonly type: string; readonly description: string }>(field: F) =>
  ({ ...field, optional: true }) as const;

const fleet = str('the fleet (value of the group tag `phoenix:fleet`)');
const channel = str('the channel the fleet follows');
const imageId = str('the AMI id');
const rolloutExecution = str('the Rollout workflow execution');
const replaceExecution = str('the Replace workflow execution');
const drainExecution = str('the Drain (or Replace) workflow execution');
const eventId = str('the id of the event that asked for it');
const reason = str('why, in words');
const cause = str('the replacement cause: health, interruption, retirement, drift or shell-access');
const previousImageId = opt(str('the image the fleet ran before'));
const step = opt(str('the workflow step that failed'));
const drain = opt(
  map('what the drain did: `{deregisteredFrom, delaySeconds, flush: {status, document?, reason?}}`'),
);
const groupName = str('the Auto Scaling group');

const rolloutFailure = {
  description: '',
  fields: {
    fleet,
    channel,
    imageId,
    execution: rolloutExecution,
    reason,
    error: str('the error name (e.g. ImageRejectedError, BatchNotHealthyError)'),
    step,
    previousImageId,
    quarantine: opt(
      map(
        'RolloutRolledBack because of the image: `{reason, tagged, recorded, error?}`, the image was quarantined (docs/quarantine-and-validation.md)',
      ),
    ),
  },
} as const;

const rolloutStopped = {
  description: '',
  fields: {
    fleet,
    channel,
    imageId,
    execution: rolloutExecution,
    reason,
    supersededBy: opt(str('the newer image whose rollout asked it to stop')),
    step,
    previousImageId,
  },
} as const;

/**
 * Every outcome detail-type with its detail's fields, at run time: the reference the docs are
 * generated from or checked against. The compiler checks it against OutcomeDetails (same keys,
 * same optional fields, same JSON types).
 */
export const OUTCOME_SHAPES = {
  RolloutStarted: {
    description: 'A rollout took the fleet lock and starts changing the fleet.',
    fields: {
      fleet,
      channel,
      imageId,
      execution: rolloutExecution,
      cause: str('what started it (e.g. the publication)'),
    },
  },
  RolloutSucceeded: {
    description: 'The fleet runs the image: the desired image and the history are committed.',
    fields: {
      fleet,
      channel,
      imageId,
      previousImageId,
      execution: rolloutExecution,
      instancesReplaced: num('instances replaced by the rollout'),
      alreadyOnImage: bool('the fleet was on the image already: nothing was launched'),
      mode: opt(str('`rollback` for `phoenix rollback`')),
      pinned: opt(map('a rollback pins the fleet: `{imageId, at, execution}`')),
    },
  },
  RolloutRejected: { ...rolloutFailure, description: 'The rollout was rejected before anything changed.' },
  RolloutRolledBack: { ...rolloutFailure, description: 'The rollout failed and the fleet was rolled back.' },
  RolloutFailed: {
    ...rolloutFailure,
    description: 'The rollout and its rollback failed: the fleet needs a human.',
  },
  RolloutSuperseded: {
    ...rolloutStopped,
    description: "The rollout stopped at a safe point (no rollback) for a newer image's rollout.",
  },
  RolloutPaused: {
    ...rolloutStopped,
    description: 'The rollout stopped at a safe point (no rollback) because its fleet was paused.',
  },
  RolloutQueued: {
    description: 'Every global rollout slot is held: the rollout waits for one (once per rollout).',
    fields: {
      fleet,
      channel,
      imageId,
      execution: rolloutExecution,
      inFlight: num('rollout slots held'),
      limit: num('maxConcurrentRollouts'),
      reason,
    },
  },
  PublicationIgnored: {
    description: 'A publication started no rollout (no channel, no fleet follows it, or the fleet is held).',
    fields: {
      eventId,
      imageId: opt(imageId),
      channel: opt(channel),
      fleet: opt(str('the fleet held back (paused or pinned)')),
      reason,
    },
  },
  ReplacementSkipped: {
    description: 'An event named an instance Phoenix does not replace: nothing was touched.',
    fields: {
      fleet: opt(fleet),
      instanceId: str('the instance'),
      cause,
      reason,
      execution: opt(replaceExecution),
      eventId,
    },
  },
  ReplacementDeferred: {
    description: 'The disruption budget is used up: the replacement waits for a slot (once per replacement).',
    fields: {
      fleet,
      instanceId: str('the instance'),
      cause,
      reason,
      budget: num("the fleet's disruption budget"),
      inFlight: num('replacements in flight'),
      execution: replaceExecution,
    },
  },
  DisruptionBudgetInvalid: {
    description: 'The `phoenix:disruption-budget` tag is not `N` or `N%`: the default budget applies.',
    fields: {
      fleet,
      groupName,
      tag: str('the tag'),
      value: str('its value'),
      reason,
      budget: num('the budget that applies'),
      execution: replaceExecution,
    },
  },
  InstanceReplaced: {
    description: 'The instance is gone and the group is back at its desired capacity, serving.',
    fields: {
      fleet,
      instanceId: str('the instance replaced'),
      cause,
      execution: replaceExecution,
      eventId,
      reason,
      replacementInstanceId: opt(str('the instance that took its place')),
      mode: opt(str('`surge` (launch first) or `terminate` (terminate first)')),
      drain,
      detectedAt: opt(str("when the need was seen (the event's time, or the sweep's)")),
      healSeconds: opt(num('time to heal: seconds from `detectedAt` to the replacement serving')),
    },
  },
  ReplacementFailed: {
    description: 'A replacement failed (its slot was released).',
    fields: {
      fleet,
      instanceId: str('the instance'),
      cause,
      execution: replaceExecution,
      eventId,
      reason,
      error: str('the error name'),
      step,
      drain,
    },
  },
  FleetCircuitOpen: {
    description:
      'Too much of the fleet was flagged for health replacement within the window: replacing stops.',
    fields: {
      fleet,
      reason,
      instances: list('the instances flagged within the window'),
      causes: list('the evidence: `{instanceId, cause, at}` per flag'),
      windowSeconds: num('the window'),
      thresholdPercent: num('the threshold, % of the fleet'),
      limit: num('how many flags the threshold allows'),
      openedAt: opt(str('when it opened (ISO-8601)')),
      execution: replaceExecution,
    },
  },
  FleetCircuitClosed: {
    description: 'The circuit breaker closed (the window cleared, or `phoenix resume`): replacing resumes.',
    fields: {
      fleet,
      reason,
      execution: opt(replaceExecution),
      wasOpen: opt(bool('`phoenix resume`: whether the circuit was open')),
      openedAt: opt(str('`phoenix resume`: when it had opened (ISO-8601)')),
      flagsCleared: opt(list('`phoenix resume`: the instances whose flags were cleared')),
    },
  },
  CircuitBreakerInvalid: {
    description: 'A `phoenix:circuit-*` tag has an invalid value: the default applies.',
    fields: {
      fleet,
      groupName,
      tag: str('the tag'),
      value: str('its value'),
      reason,
      thresholdPercent: num('the threshold that applies'),
      windowSeconds: num('the window that applies'),
      execution: replaceExecution,
    },
  },
  DesiredImageMissing: {
    description: "The fleet's desired image no longer exists: the fleet cannot scale out (reconcile sweep).",
    fields: { fleet, imageId, reason },
  },
  StrayInstance: {
    description:
      "An instance tagged with a fleet's name runs outside its groups (reconcile sweep): not touched.",
    fields: { fleet, instanceId: str('the instance'), reason },
  },
  ReconcileCompleted: {
    description: 'A reconcile sweep ended.',
    fields: {
      fleets: num('fleets swept'),
      instances: num('instances seen'),
      differences: num('differences found'),
      started: num('Replace executions started'),
      apiCalls: num('AWS calls the sweep made'),
      reclaimedSlots: num('replacement slots reclaimed from dead executions'),
      pausedFleets: opt(list('fleets skipped because they are paused')),
      fleet: opt(str('the one fleet swept (`phoenix reconcile <fleet>`, `phoenix resume`)')),
    },
  },
  DrainSettingInvalid: {
    description: 'A `phoenix:flush-timeout-seconds` tag is invalid: the default applies.',
    fields: {
      fleet: opt(fleet),
      groupName,
      instanceId: str('the instance being drained'),
      tag: str('the tag'),
      value: opt(str('its value')),
      document: opt(str('the flush document (`phoenix:flush-document`)')),
      reason,
      timeoutSeconds: num('the flush timeout that applies'),
      execution: drainExecution,
    },
  },
  InstanceDrained: {
    description: 'The termination lifecycle hook `phoenix-drain` ran for an instance.',
    fields: {
      fleet: opt(fleet),
      groupName,
      instanceId: str('the instance'),
      hook: str('the lifecycle hook'),
      flush: map("the flush's result: `{status, reason?}`"),
      lifecycleAction: str('how the lifecycle action was completed'),
      reason,
      execution: drainExecution,
      eventId,
    },
  },
  DrainFailed: {
    description:
      'The termination lifecycle hook could not be completed (Auto Scaling continues after its heartbeat).',
    fields: {
      fleet: opt(fleet),
      groupName,
      instanceId: str('the instance'),
      hook: str('the lifecycle hook'),
      reason,
      error: str('the error name'),
      execution: drainExecution,
      eventId,
    },
  },
  FleetPaused: {
    description: '`phoenix pause`: no automation starts for the fleet until `phoenix resume`.',
    fields: {
      fleet,
      at: str('when (ISO-8601)'),
      reason,
      activeRollout: opt(
        map('the rollout running then, which stops at its next safe point: `{execution, imageId}`'),
      ),
    },
  },
  FleetResumed: {
    description: '`phoenix resume` cleared a pause (a reconcile sweep of the fleet follows).',
    fields: {
      fleet,
      pausedAt: str('when it was paused (ISO-8601)'),
      pauseReason: str('the reason the pause gave'),
      reason,
    },
  },
  FleetUnpinned: {
    description: "`phoenix unpin` (or an explicit PublishImage) released a rollback's pin.",
    fields: {
      fleet,
      imageId: str('the image it was pinned to'),
      pinnedAt: str('when it was pinned (ISO-8601)'),
      execution: opt(str('`phoenix unpin`: the rollback execution that pinned it')),
      reason,
    },
  },
  ChaosKill: {
    description: 'Chaos mode terminated an instance of the fleet (no decrement: the group replaces it).',
    fields: {
      fleet,
      instanceId: str('the instance terminated'),
      groupName,
      period: str('the chaos period (ISO-8601 start)'),
      probability: num('the chance of a kill this period'),
    },
  },
  ChaosSkipped: {
    description: 'Chaos mode held back: a kill was due but unsafe, or a chaos tag is invalid.',
    fields: {
      fleet,
      code: str(
        'why, as a code: paused, rollout-in-flight, replacement-in-flight, below-capacity, claim-refused, invalid-tag or kill-failed',
      ),
      reason,
      period: str('the chaos period (ISO-8601 start)'),
      probability: opt(num('the chance of a kill this period')),
      tag: opt(str('the invalid tag')),
      value: opt(str('its value')),
    },
  },
  ImageQuarantined: {
    description:
      'A rollout rolled back because of the image (health gate, gating alarm, bake, validation): the image is quarantined, refused by every channel until `phoenix release`.',
    fields: {
      imageId,
      reason: str('why it is quarantined: health, alarm, bake or validation (the tag value)'),
      fleet: opt(str('the fleet whose rollout rolled back (absent for a failed validation)')),
      channel: opt(str('the channel the rollout followed (or the channel that validated it)')),
      execution: str('the workflow execution that quarantined it'),
      step: opt(str('the workflow step that failed')),
      cause: str('the failure, in words'),
      tagged: bool(
        'the AMI carries the tag `phoenix:quarantined` (false: tagging failed, rollouts do not refuse it)',
      ),
    },
  },
  ImageReleased: {
    description: "`phoenix release`: an operator cleared the image's quarantine; rollouts accept it again.",
    fields: {
      imageId,
      releasedBy: str('the caller identity ARN (STS GetCallerIdentity)'),
      at: str('when (ISO-8601)'),
      reason,
      quarantineReason: opt(str('why it had been quarantined')),
      quarantinedAt: opt(str('when it had been quarantined (ISO-8601)')),
    },
  },
  ImagePromoted: {
    description:
      "An image was promoted from a channel's upstream channel: every upstream fleet ran it fully rolled for the delay, with the evidence.",
    fields: {
      channel: str('the channel it was promoted into'),
      from: str('the upstream channel (`promoteFrom`)'),
      imageId,
      previousImageId: opt(str("the channel's image before")),
      parameterVersion: num(
        'the new version of the parameter `/phoenix/channels/<channel>` (the audit trail)',
      ),
      rolledSince: str('ISO-8601: since when the last upstream fleet ran it fully rolled'),
      delaySeconds: num('the promotion delay (`after`) in seconds'),
      healthReplacements: num('replacements of cause health in the upstream fleets since they rolled'),
      fleets: list('each upstream fleet: `{fleet, rolledSince, healthReplacements, alarms}`'),
      approvedBy: opt(str("the approver's identity ARN (approval required)")),
      approvedAt: opt(str('ISO-8601: when it was approved')),
      reason,
    },
  },
  PromotionWaiting: {
    description:
      'A promotion waits for fleets to roll, the delay, an approval, the window or alarms: once per image and reason.',
    fields: {
      channel: str('the downstream channel'),
      from: str('the upstream channel'),
      imageId,
      waitingFor: list('fleets-not-rolled, delay, approval, window, alarms-not-ok'),
      fleetsNotRolled: list('upstream fleets not yet fully rolled on the image'),
      until: opt(str('ISO-8601: the earliest time the delay and the window allow')),
      reason,
    },
  },
  PromotionBlocked: {
    description: 'A promotion is blocked by the evidence: once per image and reason.',
    fields: {
      channel: str('the downstream channel'),
      from: str('the upstream channel'),
      imageId,
      blockedBy: str('quarantined, no-upstream-fleet, rollback, circuit-open, health-replacements or alarm'),
      subjects: list('the fleets, alarms or image concerned'),
      reason,
    },
  },
  PromotionApproved: {
    description: '`phoenix approve <channel> <image>`: an operator approved the promotion of an image.',
    fields: {
      channel: str('the downstream channel'),
      imageId,
      by: str("the approver's identity ARN (STS GetCallerIdentity)"),
      at: str('ISO-8601: when'),
    },
  },
  ImageValidated: {
    description:
      "Post-creation validation passed: the channel's test passed on an instance launched from the image; the channel's fleets roll it (once per image).",
    fields: {
      imageId,
      channel: str('the channel that validated it'),
      execution: str('the Validate execution'),
      instanceId: str('the validation instance (terminated since)'),
      output: str("the test's output (SSM command output and/or the test function's answer), truncated"),
      started: list('the Rollout executions started for the fleets following the channel'),
    },
  },
  ImageValidationFailed: {
    description:
      'Post-creation validation failed: the test failed or timed out (the image is quarantined, reason `validation`), or the validation could not run; no fleet of the channel sees the image.',
    fields: {
      imageId,
      channel: str('the channel that validated it'),
      execution: str('the Validate execution'),
      instanceId: opt(str('the validation instance, when one came up (terminated since)')),
      reason: str('why: the test failed, timed out, or the validation could not run'),
      output: opt(str("the test's output, truncated, when the test ran")),
      quarantined: bool(
        'the image was quarantined (false: the validation could not run, e.g. a missing group)',
      ),
    },
  },
} as const satisfies { readonly [T in OutcomeType]: OutcomeShape<OutcomeDetails[T]> };
