/**
 * The Phoenix contract: every name that crosses a boundary between the CDK app, the handlers,
 * the workflows, the local runtime and the CLI lives here, once.
 *
 * Pure module: no SDK imports, safe to load from any layer.
 */

/** Tags that opt resources into Phoenix and describe them. */
export const Tags = {
  /** On an Auto Scaling group: the fleet's name. Presence of this tag is what makes a group managed. */
  fleet: 'phoenix:fleet',
  /** On an Auto Scaling group: the channel the fleet follows (default: the fleet name). On an AMI: the channel it belongs to. */
  channel: 'phoenix:channel',
  /** On an Auto Scaling group: follow this golden-AMI SSM parameter (data type `aws:ec2:image`) directly. */
  imageParameter: 'phoenix:image-parameter',
  /** On an Auto Scaling group: how many instances Phoenix may replace at once (`N` or `N%`). */
  disruptionBudget: 'phoenix:disruption-budget',
  /** On an instance: Phoenix will replace it, and why (the replacement's cause). */
  tainted: 'phoenix:tainted',
  /** On an Auto Scaling group: the circuit breaker's threshold, a percent of the fleet (`N%`, default 30%). */
  circuitThreshold: 'phoenix:circuit-threshold',
  /** On an Auto Scaling group: the circuit breaker's window in seconds (default 600). */
  circuitWindowSeconds: 'phoenix:circuit-window-seconds',
  /**
   * On the green Auto Scaling group of a blue-green rollout, until cutover: the fleet it will become
   * (the fleet's identity stays `phoenix:fleet` on the blue group until then).
   */
  greenOf: 'phoenix:green-of',
  /** On the blue group after cutover, until it is deleted: the fleet it was. */
  blueOf: 'phoenix:blue-of',
  /** On both groups of a blue-green rollout while they are in transition: the rollout's execution name. */
  rollout: 'phoenix:rollout',
  /** On an Auto Scaling group: the SSM document (Command) that flushes an instance before it goes (drain). */
  flushDocument: 'phoenix:flush-document',
  /** On an Auto Scaling group: how long the flush may run, 30 to 3600 seconds (default 120). */
  flushTimeoutSeconds: 'phoenix:flush-timeout-seconds',
  /** On an instance: Phoenix drained it (ISO time): the termination lifecycle hook completes at once. */
  drained: 'phoenix:drained',
  /** On an Auto Scaling group, set by Phoenix: the hook `phoenix-drain` is installed, with this heartbeat (seconds). */
  drainHook: 'phoenix:drain-hook',
  /** On an Auto Scaling group: chaos mode, the mean days between kills of a random instance (e.g. `2`, `0.5`). */
  chaos: 'phoenix:chaos',
  /** On an Auto Scaling group: the UTC hours chaos may kill in, `HH-HH` (default `09-17`). */
  chaosHours: 'phoenix:chaos-hours',
  /**
   * On an AMI, set by Phoenix: the image is quarantined, and why (`health`, `alarm`, `bake`,
   * `validation`): every channel's rollouts refuse it until `phoenix release` removes the tag.
   */
  quarantined: 'phoenix:quarantined',
  /**
   * On the launch template of a channel's validation group (issue 13 §2): Phoenix may version it
   * and launch it (post-creation validation), and no other template besides the fleets'.
   */
  validation: 'phoenix:validation',
} as const;

/** SSM parameters `/phoenix/channels/<channel>` (data type `aws:ec2:image`) name a channel's golden image. */
export const CHANNEL_PARAMETER_PREFIX = '/phoenix/channels/';

/** Valid fleet and channel names: what an ASG tag value, an SSM path segment and an execution name all accept. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** `source` of the commands that operators put on the Phoenix bus. */
export const COMMAND_SOURCE = 'phoenix.command';
/** `source` of the outcome events Phoenix puts on the Phoenix bus. */
export const OUTCOME_SOURCE = 'phoenix';

/** detail-types of commands (in) and outcomes (out) on the Phoenix bus; each outcome's detail: OutcomeDetails. */
export const DetailTypes = {
  PublishImage: 'PublishImage',
  RolloutStarted: 'RolloutStarted',
  RolloutSucceeded: 'RolloutSucceeded',
  RolloutRejected: 'RolloutRejected',
  RolloutRolledBack: 'RolloutRolledBack',
  RolloutFailed: 'RolloutFailed',
  PublicationIgnored: 'PublicationIgnored',
  /** A rollout stopped cleanly at a safe point (no rollback) because a rollout of a newer image asked it to. */
  RolloutSuperseded: 'RolloutSuperseded',
  /** A rollout stopped cleanly at a safe point (no rollback) because its fleet was paused (`phoenix pause`). */
  RolloutPaused: 'RolloutPaused',
  /** An event named an instance Phoenix does not manage: nothing was touched. */
  ReplacementSkipped: 'ReplacementSkipped',
  /** The fleet's disruption budget is used up: the replacement waits for a slot. Once per replacement. */
  ReplacementDeferred: 'ReplacementDeferred',
  /** The fleet's `phoenix:disruption-budget` tag is not `N` or `N%`: the default budget applies. */
  DisruptionBudgetInvalid: 'DisruptionBudgetInvalid',
  /** The instance is gone and the group is back at its desired capacity, serving. */
  InstanceReplaced: 'InstanceReplaced',
  /** A replacement failed (its slot was released). */
  ReplacementFailed: 'ReplacementFailed',
  /** Too much of a fleet was flagged for health replacement within the window: replacing stops (once per opening). */
  FleetCircuitOpen: 'FleetCircuitOpen',
  /** The circuit breaker closed (the window cleared, or an operator resumed the fleet): replacing resumes. */
  FleetCircuitClosed: 'FleetCircuitClosed',
  /** A `phoenix:circuit-*` tag has an invalid value: the default applies. */
  CircuitBreakerInvalid: 'CircuitBreakerInvalid',
  /** A fleet's desired image no longer exists (deregistered): the fleet cannot scale out (reconcile sweep). */
  DesiredImageMissing: 'DesiredImageMissing',
  /** An instance tagged with a fleet's name runs outside the fleet's groups (reconcile sweep): reported, not touched. */
  StrayInstance: 'StrayInstance',
  /** A reconcile sweep ended. */
  ReconcileCompleted: 'ReconcileCompleted',
  /** A `phoenix:flush-timeout-seconds` tag is invalid: the default applies. */
  DrainSettingInvalid: 'DrainSettingInvalid',
  /** The termination lifecycle hook `phoenix-drain` ran. */
  InstanceDrained: 'InstanceDrained',
  /** The termination lifecycle hook could not be completed (Auto Scaling continues after the heartbeat timeout). */
  DrainFailed: 'DrainFailed',
  /** `phoenix pause`: no automation starts for the fleet until `phoenix resume`. */
  FleetPaused: 'FleetPaused',
  /** `phoenix resume` cleared a pause (a reconcile sweep of the fleet follows). */
  FleetResumed: 'FleetResumed',
  /** `phoenix unpin` (or an explicit PublishImage) released a rollback's pin. */
  FleetUnpinned: 'FleetUnpinned',
  /** Every global rollout slot (`maxConcurrentRollouts`) is held: the rollout waits for one (once per rollout). */
  RolloutQueued: 'RolloutQueued',
  /** Chaos mode terminated an instance of a fleet (no decrement: the group replaces it). */
  ChaosKill: 'ChaosKill',
  /** Chaos mode held back: a kill was due but unsafe (rollout, replacement, pause, capacity), or a chaos tag is invalid. */
  ChaosSkipped: 'ChaosSkipped',
  /** An image rolled back because of the image (health gate, gating alarm, bake, validation) is quarantined. */
  ImageQuarantined: 'ImageQuarantined',
  /** `phoenix release`: an operator cleared an image's quarantine. */
  ImageReleased: 'ImageReleased',
  /** An image was promoted from a channel's upstream channel (its parameter written), with the evidence. */
  ImagePromoted: 'ImagePromoted',
  /** A promotion waits (fleets rolling, the delay, an approval, the window): once per image and reason. */
  PromotionWaiting: 'PromotionWaiting',
  /** A promotion is blocked (rollback, open circuit, health replacements, alarm, quarantine): once per image and reason. */
  PromotionBlocked: 'PromotionBlocked',
  /** `phoenix approve <channel> <image>`: an operator approved an image's promotion into a channel. */
  PromotionApproved: 'PromotionApproved',
  /** Post-creation validation: the channel's test passed on an instance of the image; its fleets roll. */
  ImageValidated: 'ImageValidated',
  /** Post-creation validation: the test failed or timed out; no fleet sees the image. */
  ImageValidationFailed: 'ImageValidationFailed',
} as const;

/** The detail-types Phoenix puts on its bus (every detail-type but the `PublishImage` command). */
export type OutcomeType = Exclude<keyof typeof DetailTypes, 'PublishImage'>;

// --- outcome details: one declared shape per outcome detail-type -------------------------------
// The interfaces are what `putOutcome` accepts; OUTCOME_SHAPES (domain/outcome-shapes.ts) describes
// the same fields at run time, for the docs, and is checked against the interfaces by the compiler
// (its own module, so that no handler bundle carries the descriptions).

/** The image a committed rollback pinned the fleet to (the fleet record's `pinnedImage`). */
export interface PinnedImageDetail {
  readonly imageId: string;
  readonly at: string;
  readonly execution: string;
}

/** What a replacement's drain did: the target groups left, the delay waited, the flush's result. */
export interface DrainDetail {
  readonly deregisteredFrom: readonly string[];
  readonly delaySeconds: number;
  readonly flush: { readonly status: string; readonly document?: string; readonly reason?: string };
}

export interface RolloutStartedDetail {
  readonly fleet: string;
  readonly channel: string;
  readonly imageId: string;
  readonly execution: string;
  readonly cause: string;
}

export interface RolloutSucceededDetail {
  readonly fleet: string;
  readonly channel: string;
  readonly imageId: string;
  readonly previousImageId?: string;
  readonly execution: string;
  readonly instancesReplaced: number;
  readonly alreadyOnImage: boolean;
  readonly mode?: 'rollback';
  readonly pinned?: PinnedImageDetail;
}

/**
 * RolloutRolledBack: what the rollback did to the image (quarantine, issue 13 §3). Present only
 * when the rollback was the image's fault; `tagged`/`recorded` false (with `error`) when that part
 * of the quarantine failed (the rollback itself stays clean).
 */
export interface QuarantineDetail {
  readonly reason: string;
  readonly tagged: boolean;
  readonly recorded: boolean;
  readonly error?: string;
}

/** RolloutRejected, RolloutRolledBack, RolloutFailed. */
export interface RolloutFailureDetail {
  readonly fleet: string;
  readonly channel: string;
  readonly imageId: string;
  readonly execution: string;
  readonly reason: string;
  readonly error: string;
  readonly step?: string;
  readonly previousImageId?: string;
  readonly quarantine?: QuarantineDetail;
}

export interface ImageQuarantinedDetail {
  readonly imageId: string;
  readonly reason: string;
  readonly fleet?: string;
  readonly channel?: string;
  readonly execution: string;
  readonly step?: string;
  readonly cause: string;
  readonly tagged: boolean;
}

export interface ImageValidatedDetail {
  readonly imageId: string;
  readonly channel: string;
  readonly execution: string;
  readonly instanceId: string;
  readonly output: string;
  readonly started: readonly string[];
}

export interface ImageValidationFailedDetail {
  readonly imageId: string;
  readonly channel: string;
  readonly execution: string;
  readonly instanceId?: string;
  readonly reason: string;
  readonly output?: string;
  readonly quarantined: boolean;
}

export interface ImageReleasedDetail {
  readonly imageId: string;
  readonly releasedBy: string;
  readonly at: string;
  readonly reason: string;
  readonly quarantineReason?: string;
  readonly quarantinedAt?: string;
}

/** RolloutSuperseded, RolloutPaused: stopped cleanly at a safe point. */
export interface RolloutStoppedDetail {
  readonly fleet: string;
  readonly channel: string;
  readonly imageId: string;
  readonly execution: string;
  readonly reason: string;
  readonly supersededBy?: string;
  readonly step?: string;
  readonly previousImageId?: string;
}

export interface RolloutQueuedDetail {
  readonly fleet: string;
  readonly channel: string;
  readonly imageId: string;
  readonly execution: string;
  readonly inFlight: number;
  readonly limit: number;
  readonly reason: string;
}

export interface PublicationIgnoredDetail {
  readonly eventId: string;
  readonly imageId?: string;
  readonly channel?: string;
  readonly fleet?: string;
  readonly reason: string;
}

/** ReplacementSkipped: from intake (no fleet holds the instance) or from the Replace workflow. */
export interface ReplacementSkippedDetail {
  readonly fleet?: string;
  readonly instanceId: string;
  readonly cause: string;
  readonly reason: string;
  readonly execution?: string;
  readonly eventId: string;
}

export interface ReplacementDeferredDetail {
  readonly fleet: string;
  readonly instanceId: string;
  readonly cause: string;
  readonly reason: string;
  readonly budget: number;
  readonly inFlight: number;
  readonly execution: string;
}

export interface DisruptionBudgetInvalidDetail {
  readonly fleet: string;
  readonly groupName: string;
  readonly tag: string;
  readonly value: string;
  readonly reason: string;
  readonly budget: number;
  readonly execution: string;
}

export interface InstanceReplacedDetail {
  readonly fleet: string;
  readonly instanceId: string;
  readonly cause: string;
  readonly execution: string;
  readonly eventId: string;
  readonly reason: string;
  readonly replacementInstanceId?: string;
  readonly mode?: 'surge' | 'terminate';
  readonly drain?: DrainDetail;
  readonly detectedAt?: string;
  readonly healSeconds?: number;
}

export interface ReplacementFailedDetail {
  readonly fleet: string;
  readonly instanceId: string;
  readonly cause: string;
  readonly execution: string;
  readonly eventId: string;
  readonly reason: string;
  readonly error: string;
  readonly step?: string;
  readonly drain?: DrainDetail;
}

export interface FleetCircuitOpenDetail {
  readonly fleet: string;
  readonly reason: string;
  readonly instances: readonly string[];
  readonly causes: readonly { readonly instanceId: string; readonly cause: string; readonly at: string }[];
  readonly windowSeconds: number;
  readonly thresholdPercent: number;
  readonly limit: number;
  readonly openedAt?: string;
  readonly execution: string;
}

/** From the Replace workflow (the window cleared) or from `phoenix resume`. */
export interface FleetCircuitClosedDetail {
  readonly fleet: string;
  readonly reason: string;
  readonly execution?: string;
  readonly wasOpen?: boolean;
  readonly openedAt?: string;
  readonly flagsCleared?: readonly string[];
}

export interface CircuitBreakerInvalidDetail {
  readonly fleet: string;
  readonly groupName: string;
  readonly tag: string;
  readonly value: string;
  readonly reason: string;
  readonly thresholdPercent: number;
  readonly windowSeconds: number;
  readonly execution: string;
}

export interface DesiredImageMissingDetail {
  readonly fleet: string;
  readonly imageId: string;
  readonly reason: string;
}

export interface StrayInstanceDetail {
  readonly fleet: string;
  readonly instanceId: string;
  readonly reason: string;
}

export interface ReconcileCompletedDetail {
  readonly fleets: number;
  readonly instances: number;
  readonly differences: number;
  readonly started: number;
  readonly apiCalls: number;
  readonly reclaimedSlots: number;
  readonly pausedFleets?: readonly string[];
  readonly fleet?: string;
}

export interface DrainSettingInvalidDetail {
  readonly fleet?: string;
  readonly groupName: string;
  readonly instanceId: string;
  readonly tag: string;
  readonly value?: string;
  readonly document?: string;
  readonly reason: string;
  readonly timeoutSeconds: number;
  readonly execution: string;
}

export interface InstanceDrainedDetail {
  readonly fleet?: string;
  readonly groupName: string;
  readonly instanceId: string;
  readonly hook: string;
  readonly flush: { readonly status: string; readonly reason?: string };
  readonly lifecycleAction: string;
  readonly reason: string;
  readonly execution: string;
  readonly eventId: string;
}

export interface DrainFailedDetail {
  readonly fleet?: string;
  readonly groupName: string;
  readonly instanceId: string;
  readonly hook: string;
  readonly reason: string;
  readonly error: string;
  readonly execution: string;
  readonly eventId: string;
}

export interface FleetPausedDetail {
  readonly fleet: string;
  readonly at: string;
  readonly reason: string;
  readonly activeRollout?: { readonly execution: string; readonly imageId: string };
}

export interface FleetResumedDetail {
  readonly fleet: string;
  readonly pausedAt: string;
  readonly pauseReason: string;
  readonly reason: string;
}

/** From `phoenix unpin` (with the rollback's execution) or an explicit PublishImage. */
export interface FleetUnpinnedDetail {
  readonly fleet: string;
  readonly imageId: string;
  readonly pinnedAt: string;
  readonly execution?: string;
  readonly reason: string;
}

export interface ChaosKillDetail {
  readonly fleet: string;
  readonly instanceId: string;
  readonly groupName: string;
  readonly period: string;
  readonly probability: number;
}

export interface ChaosSkippedDetail {
  readonly fleet: string;
  readonly code: string;
  readonly reason: string;
  readonly period: string;
  readonly probability?: number;
  readonly tag?: string;
  readonly value?: string;
}

/** One upstream fleet's evidence in ImagePromoted. */
export interface PromotionFleetEvidenceDetail {
  readonly fleet: string;
  readonly rolledSince: string;
  readonly healthReplacements: number;
  readonly alarms: readonly string[];
}

export interface ImagePromotedDetail {
  readonly channel: string;
  readonly from: string;
  readonly imageId: string;
  readonly previousImageId?: string;
  readonly parameterVersion: number;
  readonly rolledSince: string;
  readonly delaySeconds: number;
  readonly healthReplacements: number;
  readonly fleets: readonly PromotionFleetEvidenceDetail[];
  readonly approvedBy?: string;
  readonly approvedAt?: string;
  readonly reason: string;
}

export interface PromotionWaitingDetail {
  readonly channel: string;
  readonly from: string;
  readonly imageId: string;
  readonly waitingFor: readonly string[];
  readonly fleetsNotRolled: readonly string[];
  readonly until?: string;
  readonly reason: string;
}

export interface PromotionBlockedDetail {
  readonly channel: string;
  readonly from: string;
  readonly imageId: string;
  readonly blockedBy: string;
  readonly subjects: readonly string[];
  readonly reason: string;
}

export interface PromotionApprovedDetail {
  readonly channel: string;
  readonly imageId: string;
  readonly by: string;
  readonly at: string;
}

/** The detail each outcome detail-type carries: what `putOutcome(type, detail)` accepts. */
export interface OutcomeDetails {
  readonly RolloutStarted: RolloutStartedDetail;
  readonly RolloutSucceeded: RolloutSucceededDetail;
  readonly RolloutRejected: RolloutFailureDetail;
  readonly RolloutRolledBack: RolloutFailureDetail;
  readonly RolloutFailed: RolloutFailureDetail;
  readonly RolloutSuperseded: RolloutStoppedDetail;
  readonly RolloutPaused: RolloutStoppedDetail;
  readonly RolloutQueued: RolloutQueuedDetail;
  readonly PublicationIgnored: PublicationIgnoredDetail;
  readonly ReplacementSkipped: ReplacementSkippedDetail;
  readonly ReplacementDeferred: ReplacementDeferredDetail;
  readonly DisruptionBudgetInvalid: DisruptionBudgetInvalidDetail;
  readonly InstanceReplaced: InstanceReplacedDetail;
  readonly ReplacementFailed: ReplacementFailedDetail;
  readonly FleetCircuitOpen: FleetCircuitOpenDetail;
  readonly FleetCircuitClosed: FleetCircuitClosedDetail;
  readonly CircuitBreakerInvalid: CircuitBreakerInvalidDetail;
  readonly DesiredImageMissing: DesiredImageMissingDetail;
  readonly StrayInstance: StrayInstanceDetail;
  readonly ReconcileCompleted: ReconcileCompletedDetail;
  readonly DrainSettingInvalid: DrainSettingInvalidDetail;
  readonly InstanceDrained: InstanceDrainedDetail;
  readonly DrainFailed: DrainFailedDetail;
  readonly FleetPaused: FleetPausedDetail;
  readonly FleetResumed: FleetResumedDetail;
  readonly FleetUnpinned: FleetUnpinnedDetail;
  readonly ChaosKill: ChaosKillDetail;
  readonly ChaosSkipped: ChaosSkippedDetail;
  readonly ImageQuarantined: ImageQuarantinedDetail;
  readonly ImageReleased: ImageReleasedDetail;
  readonly ImagePromoted: ImagePromotedDetail;
  readonly PromotionWaiting: PromotionWaitingDetail;
  readonly PromotionBlocked: PromotionBlockedDetail;
  readonly PromotionApproved: PromotionApprovedDetail;
  readonly ImageValidated: ImageValidatedDetail;
  readonly ImageValidationFailed: ImageValidationFailedDetail;
}

/**
 * Environment variables the CDK app sets on the functions (and the local runtime sets in-process).
 * Handlers read them through `requireEnv` at first use.
 */
export const Env = {
  tableName: 'PHOENIX_TABLE_NAME',
  eventBusName: 'PHOENIX_EVENT_BUS_NAME',
  rolloutStateMachineArn: 'PHOENIX_ROLLOUT_STATE_MACHINE_ARN',
  /** The Replace workflow (intake starts one execution per instance). */
  replaceStateMachineArn: 'PHOENIX_REPLACE_STATE_MACHINE_ARN',
  /** Comma-separated alarm name prefixes that designate health alarms (intake). */
  healthAlarmPrefixes: 'PHOENIX_HEALTH_ALARM_PREFIXES',
  /** Comma-separated IAM role names of Phoenix's own functions and workflows (intake). */
  ownRoleNames: 'PHOENIX_OWN_ROLE_NAMES',
  /** The Replace workflow's timeout in seconds: a slot held longer is reclaimed (reconcile). */
  replaceTimeoutSeconds: 'PHOENIX_REPLACE_TIMEOUT_SECONDS',
  /** The Drain workflow (intake starts one execution per termination lifecycle action). */
  drainStateMachineArn: 'PHOENIX_DRAIN_STATE_MACHINE_ARN',
  /** Comma-separated account ids (and `amazon`) whose images a rollout accepts (rollout-fleet). */
  allowedImageOwners: 'PHOENIX_ALLOWED_IMAGE_OWNERS',
  /** How many rollouts (all fleets) may hold a rollout slot at once (rollout-record); default 20. */
  maxConcurrentRollouts: 'PHOENIX_MAX_CONCURRENT_ROLLOUTS',
  /** The chaos schedule's period in seconds (chaos). */
  chaosPeriodSeconds: 'PHOENIX_CHAOS_PERIOD_SECONDS',
  /** The promotion rules of the channels with `promoteFrom`, as JSON (promote). */
  promotionRules: 'PHOENIX_PROMOTION_RULES',
  /** The Validate workflow (intake starts one execution per image and channel with validation). */
  validateStateMachineArn: 'PHOENIX_VALIDATE_STATE_MACHINE_ARN',
  /** The channels with validation, as JSON `{ <channel>: ValidationConfig }` (intake). */
  validationChannels: 'PHOENIX_VALIDATION_CHANNELS',
} as const;

/**
 * The Lambda handlers: key = handler name (also `lambdas/<name>.ts`, the CDK construct id suffix and
 * the `phoenix:handler` metadata on the synthesized AWS::Lambda::Function, which the local runtime
 * uses to bind a function of the template to its module).
 */
export const Handlers = {
  intake: 'intake',
  rolloutFleet: 'rollout-fleet',
  rolloutRecord: 'rollout-record',
  replace: 'replace',
  reconcile: 'reconcile',
  drain: 'drain',
  chaos: 'chaos',
} as const;
/** Handlers of the functions every control plane has. */
export type CoreHandlerName = (typeof Handlers)[keyof typeof Handlers];

/**
 * Handlers of capabilities created only when declared: `promote` exists when some channel has
 * `promoteFrom` (lib/capabilities/promotion.ts), `validate` when some channel has `validation`
 * (lib/capabilities/validation.ts).
 */
export const OptionalHandlers = {
  promote: 'promote',
  validate: 'validate',
} as const;
export type HandlerName = CoreHandlerName | (typeof OptionalHandlers)[keyof typeof OptionalHandlers];

/** The termination lifecycle hook Phoenix puts on fleets tagged `phoenix:flush-document`. */
export const DRAIN_HOOK_NAME = 'phoenix-drain';

/** CloudFormation metadata key that names the handler module of a synthesized function. */
export const HANDLER_METADATA_KEY = 'phoenix:handler';
