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
} as const;

/** SSM parameters `/phoenix/channels/<channel>` (data type `aws:ec2:image`) name a channel's golden image. */
export const CHANNEL_PARAMETER_PREFIX = '/phoenix/channels/';

/** Valid fleet and channel names: what an ASG tag value, an SSM path segment and an execution name all accept. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** `source` of the commands that operators put on the Phoenix bus. */
export const COMMAND_SOURCE = 'phoenix.command';
/** `source` of the outcome events Phoenix puts on the Phoenix bus. */
export const OUTCOME_SOURCE = 'phoenix';

/** detail-types of commands (in) and outcomes (out) on the Phoenix bus. */
export const DetailTypes = {
  PublishImage: 'PublishImage',
  RolloutStarted: 'RolloutStarted',
  RolloutSucceeded: 'RolloutSucceeded',
  RolloutRejected: 'RolloutRejected',
  RolloutRolledBack: 'RolloutRolledBack',
  RolloutFailed: 'RolloutFailed',
  PublicationIgnored: 'PublicationIgnored',
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
  /** A reconcile sweep ended: `{fleets, instances, differences, started, apiCalls}`. */
  ReconcileCompleted: 'ReconcileCompleted',
} as const;

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
  /** Comma-separated account ids (and `amazon`) whose images a rollout accepts (rollout-fleet). */
  allowedImageOwners: 'PHOENIX_ALLOWED_IMAGE_OWNERS',
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
} as const;
export type HandlerName = (typeof Handlers)[keyof typeof Handlers];

/** CloudFormation metadata key that names the handler module of a synthesized function. */
export const HANDLER_METADATA_KEY = 'phoenix:handler';
