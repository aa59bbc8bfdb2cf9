import { type Duration, type RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { ratePeriodSeconds } from '../lambdas/domain/chaos';
import { type HandlerName, Handlers } from '../lambdas/domain/contract';
import { DEFAULT_MAX_CONCURRENT_ROLLOUTS } from '../lambdas/domain/fleet-record';
import { DEFAULT_RESERVED_CONCURRENCY } from './phoenix-function';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { OperatorProps } from './capabilities/authorization';
import type { ChannelProps } from './channel-props';
import { NAME_PATTERN } from '../lambdas/domain/contract';
import {
  DEFAULT_MAX_HEALTH_REPLACEMENTS,
  DEFAULT_PROMOTION_DELAY_SECONDS,
  type PromotionRule,
  WEEKDAYS,
} from '../lambdas/domain/promotion';

/** What EventBridge accepts as a custom bus name (the `default` bus and partner buses excluded). */
const EVENT_BUS_NAME_PATTERN = /^[.\-_A-Za-z0-9]{1,256}$/;

export interface PhoenixControlPlaneProps extends OperatorProps {
  /**
   * Name of the Phoenix event bus: commands in (`phoenix.command`), outcomes out (`phoenix`).
   * Must be a custom bus name: not `default`, no `/`, at most 256 of `A-Z a-z 0-9 . _ -`.
   * @default 'phoenix'
   */
  readonly eventBusName?: string;
  /**
   * What happens to the stateful resources (the fleet table, the log groups) when they are
   * removed from the stack or the stack is deleted.
   * @default RemovalPolicy.RETAIN - the table and the logs outlive the stack
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long one rollout may run before it is rolled back (its deadline; passed to
   * `RolloutWorkflow` as `timeout`). Each execution may run this plus a rollback allowance.
   * @default - the `RolloutWorkflow` default, 2 hours
   */
  readonly rolloutTimeout?: Duration;
  /**
   * How long a rollout waits between two health checks of a batch (passed to `RolloutWorkflow`).
   * @default - the `RolloutWorkflow` default, 15 seconds
   */
  readonly rolloutPollInterval?: Duration;
  /**
   * How long one replacement may run in all, waiting for a disruption-budget slot included (passed to `ReplaceWorkflow`).
   * @default - the `ReplaceWorkflow` default, 1 hour
   */
  readonly replaceTimeout?: Duration;
  /**
   * How long a replacement waits between two checks (passed to `ReplaceWorkflow`).
   * @default - the `ReplaceWorkflow` default, 15 seconds
   */
  readonly replacePollInterval?: Duration;
  /**
   * When the reconcile sweep runs (actual state of every managed fleet against its desired state).
   * @default events.Schedule.rate(Duration.minutes(5))
   */
  readonly reconcileSchedule?: events.Schedule;
  /**
   * When chaos mode runs: its period. In each period, each fleet tagged `phoenix:chaos=<mean days>`
   * loses a random instance with probability period / mean (within its chaos hours, when safe).
   * Must be a `rate(...)` schedule (the period must be known).
   * @default events.Schedule.rate(Duration.hours(1)) - `DEFAULT_CHAOS_PERIOD`
   */
  readonly chaosSchedule?: events.Schedule;
  /**
   * How long function and execution logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Alarms whose names start with one of these prefixes are health alarms: an instance they name
   * (dimension `InstanceId`) is replaced when they go to ALARM, whatever their metric. EC2
   * status-check alarms are health alarms anyway.
   * @default ['phoenix-health-']
   */
  readonly healthAlarmPrefixes?: string[];
  /**
   * Owners whose images a rollout accepts: 12-digit account ids and the alias `amazon` (images
   * Amazon publishes). An image of any other owner is rejected before anything is launched.
   * @default [Aws.ACCOUNT_ID, 'amazon'] - this account's images and Amazon's
   */
  readonly allowedImageOwners?: string[];
  /**
   * The fan-out limit: how many rollouts (all fleets together) may run at once. One image followed
   * by many fleets rolls them concurrently up to this many; the others wait (`RolloutQueued`, with
   * the fleet lock held) for a slot. An integer from 1 to 1000.
   * @default 20 - `DEFAULT_MAX_CONCURRENT_ROLLOUTS` (chosen from bench/scale.ts, see docs/rollouts.md)
   */
  readonly maxConcurrentRollouts?: number;

  // Encryption and concurrency (issue 10).
  /**
   * A customer-managed KMS key that encrypts the fleet table, every queue (the rules' and the
   * functions' dead-letter queues), every log group (functions and workflows) and the functions'
   * environments. Phoenix grants each function's role the key's use it needs, and writes into the
   * key's policy what CloudWatch Logs and EventBridge need; for a key imported by ARN, whose
   * policy CDK cannot change, add those statements yourself (docs/security.md, Encryption).
   * @default - AWS managed or AWS-owned keys: DynamoDB's `alias/aws/dynamodb`, SSE-SQS,
   * CloudWatch Logs' own encryption, Lambda's AWS managed key
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Reserved concurrent executions by handler (`Handlers`, e.g. `{ intake: 50 }`): each function's
   * ceiling, so that an event storm cannot take the account's whole Lambda concurrency, and its
   * floor. Integers of at least 1; the Rollout steps' at least `maxConcurrentRollouts` (each
   * running rollout runs one step at a time). The account must keep at least 100 executions
   * unreserved, or the deployment fails.
   * @default - intake 20, rollout-fleet and rollout-record 20 (or `maxConcurrentRollouts` when
   * larger), replace 10, drain 10, reconcile 1, chaos 1 (`DEFAULT_RESERVED_CONCURRENCY`): 82; validate 2
   * more when a channel has `validation`
   */
  readonly reservedConcurrency?: Partial<Readonly<Record<HandlerName, number>>>;
  /**
   * The instance roles a rollout may pass to EC2 (iam:PassRole with iam:PassedToService =
   * ec2.amazonaws.com): the roles of the instance profiles the fleets' launch templates name.
   * Updating a group to a launch template version with an instance profile requires it.
   * @default - none: a fleet whose launch template names an instance profile cannot be rolled
   */
  readonly instanceRoles?: readonly iam.IRole[];
  /**
   * The SSM documents a drain may run as a fleet's flush (tag `phoenix:flush-document`): names of
   * this account's documents (IAM wildcards allowed) or full document ARNs. AWS-owned documents
   * (AWS-RunShellScript...) only by ARN.
   * @default ['*flush*'] - this account's documents whose name contains `flush`
   */
  readonly flushDocuments?: readonly string[];
  /**
   * Target groups a drain may deregister a fleet's instances from, besides those tagged `phoenix:fleet`.
   * @default - only target groups tagged `phoenix:fleet`
   */
  readonly drainTargetGroups?: readonly elbv2.ITargetGroup[];
  /**
   * Golden-AMI parameters outside `/phoenix/channels/` that fleets may follow (tag
   * `phoenix:image-parameter`): name prefixes such as `/corp/golden/`. AWS public parameters under
   * `/aws/service/` are always readable.
   * @default - none
   */
  readonly goldenImageParameterPrefixes?: readonly string[];
  /**
   * A CloudWatch dashboard of the control plane: rollouts by outcome, replacements by cause, time
   * to heal, executions in flight, dead-letter queue depths, circuit breaker, throttles, alarms
   * (lib/capabilities/observability.ts, docs/alarms.md).
   * @default true
   */
  readonly dashboard?: boolean;
  /**
   * An EventBridge schema registry with the JSON Schema of every outcome event (schemas/outcomes/).
   * @default false
   */
  readonly schemaRegistry?: boolean;

  // Promotion and validation (issue 13).
  /**
   * Channels with a promotion rule or an image validation, by channel name (lib/channel-props.ts,
   * docs/promotion.md). Channels not named here work as before.
   * @default - none
   */
  readonly channels?: Readonly<Record<string, ChannelProps>>;
  /**
   * When the promotion check runs (created only when some channel has `promoteFrom`).
   * @default events.Schedule.rate(Duration.minutes(5))
   */
  readonly promotionSchedule?: events.Schedule;
}

/**
 * Checks the props of `PhoenixControlPlane` before anything is built: collects every problem, each
 * quoting the value received, and throws once. Unresolved tokens and props not given (their
 * defaults, owned by the capability that uses them, are valid) are not checked.
 */
export function validateControlPlaneProps(props: PhoenixControlPlaneProps): void {
  const problems = [
    ...eventBusNameProblems(props.eventBusName),
    ...chaosScheduleProblems(props.chaosSchedule),
    ...healthAlarmPrefixProblems(props.healthAlarmPrefixes),
    ...imageOwnerProblems(props.allowedImageOwners),
    ...maxConcurrentRolloutsProblems(props.maxConcurrentRollouts),
    // Encryption and concurrency (issue 10).
    ...reservedConcurrencyProblems(props),
    ...nameListProblems('flushDocuments', props.flushDocuments),
    ...nameListProblems('goldenImageParameterPrefixes', props.goldenImageParameterPrefixes),
    ...operatorTagProblems(props.operatorPrincipalTag),
    // Observability (issue 12).
    ...booleanProblems('dashboard', props.dashboard),
    ...booleanProblems('schemaRegistry', props.schemaRegistry),
    // Promotion and validation (issue 13).
    ...promotionProblems(props.channels),
    ...validationProblems(props.channels),
  ];
  if (problems.length > 0) throw new Error(`Invalid PhoenixControlPlane props: ${problems.join('; ')}`);
}

const quote = (value: unknown) => JSON.stringify(value);

function eventBusNameProblems(name: string | undefined): string[] {
  if (name === undefined || Token.isUnresolved(name)) return [];
  if (name === 'default') {
    return [`eventBusName must name a custom bus, not the account's default bus, got ${quote(name)}`];
  }
  if (name.includes('/')) {
    return [`eventBusName must not contain '/' (that is a partner event source), got ${quote(name)}`];
  }
  if (!EVENT_BUS_NAME_PATTERN.test(name)) {
    return [`eventBusName must match ${String(EVENT_BUS_NAME_PATTERN)}, got ${quote(name)}`];
  }
  return [];
}

function chaosScheduleProblems(schedule: events.Schedule | undefined): string[] {
  const expression = schedule?.expressionString;
  if (expression === undefined || Token.isUnresolved(expression)) return [];
  if (ratePeriodSeconds(expression) !== undefined) return [];
  return [
    `chaosSchedule must be a rate(...) schedule (its rate is the chaos period), got ${quote(expression)}`,
  ];
}

function healthAlarmPrefixProblems(prefixes: string[] | undefined): string[] {
  const bad = (prefixes ?? []).filter((p) => !Token.isUnresolved(p) && (p.trim() === '' || p.includes(',')));
  return bad.length === 0
    ? []
    : [`healthAlarmPrefixes must be non-empty and free of commas, got ${quote(bad)}`];
}

function imageOwnerProblems(owners: string[] | undefined): string[] {
  if (owners === undefined) return [];
  if (owners.length === 0) {
    return [`allowedImageOwners must name at least one owner, got ${quote(owners)}`];
  }
  const bad = owners.filter((o) => !Token.isUnresolved(o) && o !== 'amazon' && !/^\d{12}$/.test(o));
  return bad.length === 0
    ? []
    : [`allowedImageOwners must be 12-digit account ids or 'amazon', got ${quote(bad)}`];
}

function maxConcurrentRolloutsProblems(max: number | undefined): string[] {
  if (max === undefined || Token.isUnresolved(max)) return [];
  if (Number.isInteger(max) && max >= 1 && max <= 1000) return [];
  return [`maxConcurrentRollouts must be an integer from 1 to 1000, got ${quote(max)}`];
}

// Encryption and concurrency (issue 10).

/** The Rollout workflow's step functions: each running rollout invokes one of them at a time. */
const ROLLOUT_STEP_HANDLERS: readonly HandlerName[] = [Handlers.rolloutFleet, Handlers.rolloutRecord];

/**
 * Every handler's reserved concurrency: the prop's value, else the default (for the Rollout steps,
 * at least `maxConcurrentRollouts`).
 */
export function reservedConcurrencyOf(props: PhoenixControlPlaneProps): Record<HandlerName, number> {
  const maxRollouts = props.maxConcurrentRollouts ?? DEFAULT_MAX_CONCURRENT_ROLLOUTS;
  const out = {} as Record<HandlerName, number>;
  for (const handler of Object.values(Handlers)) {
    const fallback = DEFAULT_RESERVED_CONCURRENCY[handler];
    out[handler] =
      props.reservedConcurrency?.[handler] ??
      (ROLLOUT_STEP_HANDLERS.includes(handler) && !Token.isUnresolved(maxRollouts)
        ? Math.max(fallback, maxRollouts)
        : fallback);
  }
  return out;
}

function reservedConcurrencyProblems(props: PhoenixControlPlaneProps): string[] {
  const given = props.reservedConcurrency;
  if (given === undefined) return [];
  const handlers: readonly string[] = Object.values(Handlers);
  const problems: string[] = [];
  const unknown = Object.keys(given).filter((name) => !handlers.includes(name));
  if (unknown.length > 0) {
    problems.push(
      `reservedConcurrency names no handler ${quote(unknown)} (handlers: ${handlers.join(', ')})`,
    );
  }
  const maxRollouts = props.maxConcurrentRollouts ?? DEFAULT_MAX_CONCURRENT_ROLLOUTS;
  for (const [handler, value] of Object.entries(given) as [HandlerName, number | undefined][]) {
    if (value === undefined || Token.isUnresolved(value)) continue;
    if (!Number.isInteger(value) || value < 1) {
      problems.push(`reservedConcurrency.${handler} must be an integer of at least 1, got ${quote(value)}`);
    } else if (
      ROLLOUT_STEP_HANDLERS.includes(handler) &&
      !Token.isUnresolved(maxRollouts) &&
      value < maxRollouts
    ) {
      problems.push(
        `reservedConcurrency.${handler} must be at least maxConcurrentRollouts (${maxRollouts}): each running rollout invokes it, got ${quote(value)}`,
      );
    }
  }
  return problems;
}

function nameListProblems(prop: string, names: readonly string[] | undefined): string[] {
  const bad = (names ?? []).filter((n) => !Token.isUnresolved(n) && (n.trim() === '' || /\s/.test(n)));
  return bad.length === 0 ? [] : [`${prop} must be non-empty names without spaces, got ${quote(bad)}`];
}

function operatorTagProblems(tag: { key: string; value: string } | undefined): string[] {
  if (tag === undefined || Token.isUnresolved(tag.key)) return [];
  return tag.key.trim() === '' ? [`operatorPrincipalTag.key must not be empty, got ${quote(tag)}`] : [];
}

/** A flag given from JavaScript or a JSON context may be a string: `'false'` would mean true. */
function booleanProblems(name: string, value: unknown): string[] {
  return value === undefined || typeof value === 'boolean'
    ? []
    : [`${name} must be true or false, got ${quote(value)}`];
}

// Promotion (issue 13).

/**
 * The channels' promotion fields: `promoteFrom` names another declared-or-published channel (a
 * valid channel name, not itself), no cycle, `after` at least 0, `approval` a boolean, the window's
 * days and hours, `maxHealthReplacements` a whole number.
 */
function promotionProblems(channels: Readonly<Record<string, ChannelProps>> | undefined): string[] {
  if (channels === undefined) return [];
  const problems: string[] = [];
  for (const [name, channel] of Object.entries(channels)) {
    if (!NAME_PATTERN.test(name)) problems.push(`channels: ${quote(name)} is not a channel name`);
    const where = `channels.${name}`;
    const from = channel.promoteFrom;
    if (from !== undefined && !Token.isUnresolved(from)) {
      if (!NAME_PATTERN.test(from))
        problems.push(`${where}.promoteFrom must be a channel name, got ${quote(from)}`);
      else if (from === name)
        problems.push(`${where}.promoteFrom must name another channel, got ${quote(from)}`);
    }
    if (from === undefined) {
      for (const field of ['after', 'approval', 'window', 'maxHealthReplacements'] as const) {
        if (channel[field] !== undefined) problems.push(`${where}.${field} needs promoteFrom`);
      }
    }
    const after = channel.after;
    if (after !== undefined && !Token.isUnresolved(after.toSeconds())) {
      if (after.toSeconds() < 0)
        problems.push(`${where}.after must be at least 0, got ${after.toSeconds()}s`);
    }
    problems.push(...booleanProblems(`${where}.approval`, channel.approval));
    const max = channel.maxHealthReplacements;
    if (max !== undefined && !Token.isUnresolved(max) && !(Number.isInteger(max) && max >= 0)) {
      problems.push(`${where}.maxHealthReplacements must be a whole number, got ${quote(max)}`);
    }
    const w = channel.window;
    if (w !== undefined) {
      const days: readonly string[] = WEEKDAYS;
      const badDays = (w.days ?? []).filter((d) => !days.includes(d));
      if (badDays.length > 0)
        problems.push(`${where}.window.days must be of ${WEEKDAYS.join(', ')}, got ${quote(badDays)}`);
      if (w.days !== undefined && w.days.length === 0)
        problems.push(`${where}.window.days must name at least one day`);
      const hourOk = (h: number, lo: number, hi: number) => Number.isInteger(h) && h >= lo && h <= hi;
      if (!hourOk(w.fromHour, 0, 23) || !hourOk(w.toHour, 1, 24) || w.toHour <= w.fromHour) {
        problems.push(
          `${where}.window needs whole hours 0 <= fromHour < toHour <= 24, got ${quote({ fromHour: w.fromHour, toHour: w.toHour })}`,
        );
      }
    }
  }
  // No cycle: following promoteFrom from any channel ends.
  for (const start of Object.keys(channels)) {
    const seen = [start];
    let at = channels[start]?.promoteFrom;
    while (at !== undefined && !Token.isUnresolved(at)) {
      if (seen.includes(at)) {
        if (at === start) problems.push(`channels: promoteFrom makes a cycle ${[...seen, at].join(' -> ')}`);
        break;
      }
      seen.push(at);
      at = channels[at]?.promoteFrom;
    }
  }
  return [...new Set(problems)];
}

/** The promotion rules of the channels with `promoteFrom`, for the promote function (validated props). */
export function promotionRulesOf(props: PhoenixControlPlaneProps): PromotionRule[] {
  return Object.entries(props.channels ?? {})
    .filter(([, c]) => c.promoteFrom !== undefined)
    .map(([channel, c]) => ({
      channel,
      promoteFrom: c.promoteFrom!,
      afterSeconds: c.after?.toSeconds() ?? DEFAULT_PROMOTION_DELAY_SECONDS,
      approval: c.approval ?? false,
      ...(c.window !== undefined
        ? {
            window: {
              ...(c.window.days !== undefined ? { days: c.window.days } : {}),
              fromHour: c.window.fromHour,
              toHour: c.window.toHour,
            },
          }
        : {}),
      maxHealthReplacements: c.maxHealthReplacements ?? DEFAULT_MAX_HEALTH_REPLACEMENTS,
    }));
}

/** The validation test document may come from the group's tag; this name pattern is SSM's. */
const SSM_DOCUMENT_NAME = /^[a-zA-Z0-9_\-.:/]{3,128}$/;
const AUTO_SCALING_GROUP_NAME = /^[\S ]{1,255}$/;

function validationProblems(channels: PhoenixControlPlaneProps['channels']): string[] {
  const problems: string[] = [];
  for (const [channel, props] of Object.entries(channels ?? {})) {
    const v = props.validation;
    if (v === undefined) continue;
    const where = `channels.${channel}.validation`;
    if (props.promoteFrom !== undefined) {
      problems.push(
        `${where}: channel ${channel} is promoted from ${quote(props.promoteFrom)}; an image is validated once, before it enters its first channel's fleets: declare validation on that channel`,
      );
    }
    if (
      typeof v.group !== 'string' ||
      (!Token.isUnresolved(v.group) && !AUTO_SCALING_GROUP_NAME.test(v.group))
    ) {
      problems.push(`${where}.group must name an Auto Scaling group, got ${quote(v.group)}`);
    }
    if (v.testDocument === undefined && v.testFunction === undefined) {
      problems.push(
        `${where} must name a test: testDocument (an SSM document) and/or testFunction (a Lambda function), got neither`,
      );
    }
    if (
      v.testDocument !== undefined &&
      !Token.isUnresolved(v.testDocument) &&
      !SSM_DOCUMENT_NAME.test(v.testDocument)
    ) {
      problems.push(`${where}.testDocument must be an SSM document name, got ${quote(v.testDocument)}`);
    }
    if (v.testFunction !== undefined && !Token.isUnresolved(v.testFunction) && v.testFunction.trim() === '') {
      problems.push(`${where}.testFunction must name a Lambda function, got ${quote(v.testFunction)}`);
    }
    const seconds =
      v.timeout !== undefined && !Token.isUnresolved(v.timeout.toSeconds())
        ? v.timeout.toSeconds()
        : undefined;
    if (seconds !== undefined && (seconds < 60 || seconds > 24 * 3600)) {
      problems.push(`${where}.timeout must be from 1 minute to 24 hours, got ${seconds} seconds`);
    }
  }
  return problems;
}
