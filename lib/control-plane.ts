import { RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CommandAuthorization } from './capabilities/authorization';
import { ChaosCapability } from './capabilities/chaos';
import { DrainCapability } from './capabilities/drain';
import { IntakeCapability } from './capabilities/intake';
import { ObservabilityCapability } from './capabilities/observability';
import { OutcomeArchive } from './capabilities/outcome-archive';
import { PromotionCapability } from './capabilities/promotion';
import { ReconcileCapability } from './capabilities/reconcile';
import { ReplaceCapability } from './capabilities/replace';
import { RolloutCapability } from './capabilities/rollout';
import { ValidationCapability } from './capabilities/validation';
import type { CapabilityProps } from './capabilities/shared';
import { PhoenixState } from './capabilities/state';
import {
  type PhoenixControlPlaneProps,
  promotionRulesOf,
  reservedConcurrencyOf,
  validateControlPlaneProps,
} from './control-plane-props';
import type { DrainWorkflow } from './drain-workflow';
import type { PhoenixFunction } from './phoenix-function';
import type { ReplaceWorkflow } from './replace-workflow';
import type { RolloutWorkflow } from './rollout-workflow';

export type { PhoenixControlPlaneProps } from './control-plane-props';

/**
 * The Phoenix control plane: the shared state (bus, table) and one construct per capability —
 * Intake (the event-source rules), Rollout, Drain, Replace, Reconcile and Chaos — each with its
 * function, its IAM, its dead-letter alarms and its cdk-nag acknowledgements (lib/capabilities/).
 * The capabilities create their resources in this construct's scope, so that every logical id is
 * that of one flat control plane: see lib/capabilities/shared.ts.
 *
 * Least privilege: the handlers may change only what Phoenix manages (Auto Scaling groups and launch
 * templates tagged `phoenix:fleet`, the green groups it names, the instances of fleets), and only
 * the operators may put commands on the bus (`CommandAuthorization`): see docs/security.md.
 */
export class PhoenixControlPlane extends Construct {
  /** The shared state: the Phoenix bus and the fleet table. */
  public readonly state: PhoenixState;
  /** The event-source rules and the intake function. */
  public readonly intake: IntakeCapability;
  /** The Rollout workflow and its two functions. */
  public readonly rollout: RolloutCapability;
  /** The drain function and the Drain workflow. */
  public readonly drain: DrainCapability;
  /** The replace function and the Replace workflow. */
  public readonly replace: ReplaceCapability;
  /** The reconcile sweep and its schedule. */
  public readonly reconcile: ReconcileCapability;
  /** Chaos mode and its schedule. */
  public readonly chaos: ChaosCapability;
  /** The promotion check and its schedule: only when some channel has `promoteFrom` (docs/promotion.md). */
  public readonly promotion?: PromotionCapability;
  /** The outcome archive: every outcome event into a log group (`phoenix events` reads it). */
  public readonly outcomeArchive: OutcomeArchive;
  /** Who may put commands on the bus and publish images: the bus policy and the publish guard. */
  public readonly authorization: CommandAuthorization;
  /**
   * A managed policy to attach to the account's non-operator roles: it denies publishing an image
   * through a channel parameter or the AMI tag `phoenix:channel` to all but the operators.
   */
  public readonly publishGuard: iam.ManagedPolicy;

  /** The Phoenix bus: commands in, outcomes out. */
  public readonly eventBus: events.EventBus;
  /** Fleet records (`pk = FLEET#<name>`) and idempotency keys. */
  public readonly table: dynamodb.Table;
  /** Normalizes incoming events into intents and starts workflows. */
  public readonly intakeFunction: PhoenixFunction;
  /** The Rollout workflow's EC2 + Auto Scaling steps. */
  public readonly rolloutFleetFunction: PhoenixFunction;
  /** The Rollout workflow's DynamoDB + EventBridge steps. */
  public readonly rolloutRecordFunction: PhoenixFunction;
  /** The Rollout workflow (Step Functions Standard). */
  public readonly rolloutWorkflow: RolloutWorkflow;
  /** The Replace workflow's steps (EC2 + Auto Scaling + DynamoDB + EventBridge). */
  public readonly replaceFunction: PhoenixFunction;
  /** The Replace workflow (Step Functions Standard): one execution per instance to replace. */
  public readonly replaceWorkflow: ReplaceWorkflow;
  /** The drain steps (ELBv2 + SSM + Auto Scaling): in the Replace workflow and the Drain workflow. */
  public readonly drainFunction: PhoenixFunction;
  /** The Drain workflow: one execution per termination lifecycle action of the hook `phoenix-drain`. */
  public readonly drainWorkflow: DrainWorkflow;
  /** The reconcile sweep (on `reconcileRule`'s schedule). */
  public readonly reconcileFunction: PhoenixFunction;
  /** The reconcile sweep's schedule (default bus). */
  public readonly reconcileRule: events.Rule;
  /** Chaos mode: one period per invocation (on `chaosRule`'s schedule). */
  public readonly chaosFunction: PhoenixFunction;
  /** Chaos mode's schedule (default bus): its rate is the chaos period. */
  public readonly chaosRule: events.Rule;
  /** Default bus: an AMI became `available` (the catalog's `AmiAvailableRule`). */
  public readonly amiAvailableRule: events.Rule;
  /** Default bus: a channel parameter `/phoenix/channels/<channel>` was created or updated. */
  public readonly channelParameterRule: events.Rule;
  /** Phoenix bus: an operator's `PublishImage` command. */
  public readonly publishImageRule: events.Rule;
  /** Every rule of the event-source catalog (`EVENT_SOURCES`), by its `ruleId` (also its construct id). */
  public readonly rules: Readonly<Record<string, events.Rule>>;
  /** Every dead-letter queue: one per rule target, one per function (async invocations). */
  public readonly deadLetterQueues: readonly sqs.Queue[];
  /** One alarm per dead-letter queue: at least one message visible in 5 minutes. */
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];
  /** Post-creation image validation (issue 13 §2): only when some channel has `validation`. */
  public readonly validation?: ValidationCapability;
  /** The outcome alarms, the dashboard and the optional schema registry (docs/alarms.md). */
  public readonly observability: ObservabilityCapability;

  constructor(scope: Construct, id: string, props: PhoenixControlPlaneProps = {}) {
    super(scope, id);
    validateControlPlaneProps(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const { encryptionKey } = props;
    this.state = new PhoenixState(this, 'State', {
      eventBusName: props.eventBusName,
      removalPolicy,
      encryptionKey,
    });
    const common: CapabilityProps = {
      state: this.state,
      removalPolicy,
      logRetention: props.logRetention,
      encryptionKey,
      reservedConcurrency: reservedConcurrencyOf(props),
    };

    // The Rollout workflow first: the local runtime's first state machine stays the Rollout one.
    this.rollout = new RolloutCapability(this, 'RolloutCapability', {
      ...common,
      timeout: props.rolloutTimeout,
      pollInterval: props.rolloutPollInterval,
      allowedImageOwners: props.allowedImageOwners,
      maxConcurrentRollouts: props.maxConcurrentRollouts,
      instanceRoles: props.instanceRoles,
    });
    this.drain = new DrainCapability(this, 'DrainCapability', {
      ...common,
      flushDocuments: props.flushDocuments,
      targetGroups: props.drainTargetGroups,
    });
    this.replace = new ReplaceCapability(this, 'ReplaceCapability', {
      ...common,
      drainFunction: this.drain.function,
      timeout: props.replaceTimeout,
      pollInterval: props.replacePollInterval,
    });
    this.reconcile = new ReconcileCapability(this, 'ReconcileCapability', {
      ...common,
      replace: this.replace,
      schedule: props.reconcileSchedule,
    });
    this.chaos = new ChaosCapability(this, 'ChaosCapability', { ...common, schedule: props.chaosSchedule });
    const channels = props.channels ?? {};
    if (Object.values(channels).some((c) => c.validation !== undefined)) {
      this.validation = new ValidationCapability(this, 'ValidationCapability', {
        ...common,
        channels,
        rollout: this.rollout.workflow,
        instanceRoles: props.instanceRoles,
      });
    }
    // Phoenix's own roles (all but the reconcile sweep's, as before): their API calls are never drift.
    const { rollout, replace, drain, chaos, validation } = this;
    const ownFunctions = [rollout.fleetFunction, rollout.recordFunction, replace.function, chaos.function];
    const ownRoles = [...ownFunctions, drain.function, ...(validation ? [validation.function] : [])]
      .map((f): iam.IRole => f.role)
      .concat(
        [
          rollout.workflow,
          replace.workflow,
          drain.workflow,
          ...(validation ? [validation.workflow] : []),
        ].map((w) => w.stateMachine.role),
      );
    this.intake = new IntakeCapability(this, 'IntakeCapability', {
      ...common,
      rollout: this.rollout.workflow,
      replace: this.replace,
      drain: this.drain.workflow,
      healthAlarmPrefixes: props.healthAlarmPrefixes,
      goldenImageParameterPrefixes: props.goldenImageParameterPrefixes,
      ownRoles,
    });
    const promotionRules = promotionRulesOf(props);
    if (promotionRules.length > 0) {
      this.promotion = new PromotionCapability(this, 'PromotionCapability', {
        ...common,
        rules: promotionRules,
        schedule: props.promotionSchedule,
      });
    }
    validation?.wireIntake(this.intake.function, this.state);
    // Outcomes come from Phoenix's roles only; commands from the operators only.
    this.authorization = new CommandAuthorization(this, 'CommandAuthorization', {
      state: this.state,
      operatorPrincipals: props.operatorPrincipals,
      operatorPrincipalTag: props.operatorPrincipalTag,
      ownRoles: [
        ...ownRoles,
        this.intake.function.role,
        this.reconcile.function.role,
        ...(this.promotion !== undefined ? [this.promotion.function.role] : []),
      ],
    });
    this.publishGuard = this.authorization.publishGuard;
    this.outcomeArchive = new OutcomeArchive(this, 'OutcomeArchive', { ...common });

    this.eventBus = this.state.eventBus;
    this.table = this.state.table;
    this.intakeFunction = this.intake.function;
    this.rolloutFleetFunction = this.rollout.fleetFunction;
    this.rolloutRecordFunction = this.rollout.recordFunction;
    this.rolloutWorkflow = this.rollout.workflow;
    this.replaceFunction = this.replace.function;
    this.replaceWorkflow = this.replace.workflow;
    this.drainFunction = this.drain.function;
    this.drainWorkflow = this.drain.workflow;
    this.reconcileFunction = this.reconcile.function;
    this.reconcileRule = this.reconcile.rule;
    this.chaosFunction = this.chaos.function;
    this.chaosRule = this.chaos.rule;
    this.rules = this.intake.rules;
    this.amiAvailableRule = this.intake.rule('AmiAvailableRule');
    this.channelParameterRule = this.intake.rule('ChannelParameterRule');
    this.publishImageRule = this.intake.rule('PublishImageRule');
    const capabilities = [
      ...[this.intake, this.reconcile, this.chaos, this.rollout, this.replace, this.drain],
      ...(this.promotion !== undefined ? [this.promotion] : []),
      this.outcomeArchive,
      ...(validation ? [validation] : []),
    ];
    this.deadLetterQueues = capabilities.flatMap((c) => c.deadLetterQueues);
    this.deadLetterAlarms = capabilities.flatMap((c) => c.deadLetterAlarms);
    const workflows = {
      Rollout: this.rolloutWorkflow,
      Replace: this.replaceWorkflow,
      Drain: this.drainWorkflow,
      ...(validation ? { Validate: validation.workflow } : {}),
    };
    this.observability = new ObservabilityCapability(this, 'ObservabilityCapability', {
      workflows: Object.fromEntries(Object.entries(workflows).map(([n, w]) => [n, w.stateMachine])),
      deadLetterQueues: this.deadLetterQueues,
      alarms: [...this.deadLetterAlarms, ...Object.values(workflows).flatMap((w) => w.alarms)],
      dashboard: props.dashboard,
      schemaRegistry: props.schemaRegistry,
    });
  }
}
