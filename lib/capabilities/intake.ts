import { Duration, Fn, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CHANNEL_PARAMETER_PREFIX, Env, Handlers, Tags } from '../../lambdas/domain/contract';
import { EVENT_SOURCES } from '../../lambdas/domain/sources';
import { wildcardResourceFinding } from '../compliance';
import type { DrainWorkflow } from '../drain-workflow';
import type { PhoenixFunction } from '../phoenix-function';
import type { RolloutWorkflow } from '../rollout-workflow';
import type { ReplaceCapability } from './replace';
import {
  acknowledge,
  type CapabilityProps,
  capabilityFunction,
  deadLetterAlarms,
  describePolicy,
  targetWithDeadLetterQueue,
  toCdkEventPattern,
} from './shared';

export interface IntakeCapabilityProps extends CapabilityProps {
  /** The Rollout workflow: a publication starts a rollout. */
  readonly rollout: RolloutWorkflow;
  /** The Replace capability: a health event starts a replacement. */
  readonly replace: ReplaceCapability;
  /** The Drain workflow: a termination lifecycle action starts a drain. */
  readonly drain: DrainWorkflow;
  /**
   * Alarms whose names start with one of these prefixes are health alarms (validated by
   * `PhoenixControlPlane`).
   * @default ['phoenix-health-']
   */
  readonly healthAlarmPrefixes?: string[];
  /**
   * Phoenix's other roles (besides intake's own): their API calls (CloudTrail) are never drift.
   * @default - none but intake's own role
   */
  readonly ownRoles?: readonly iam.IRole[];
  /**
   * Golden-AMI parameters outside `/phoenix/channels/` that fleets may follow (tag
   * `phoenix:image-parameter`): name prefixes, e.g. `/corp/golden/`. AWS public parameters under
   * `/aws/service/` are always readable.
   * @default - none: fleets follow channels, or AWS public parameters
   */
  readonly goldenImageParameterPrefixes?: readonly string[];
}

/** AWS public parameters (the latest Amazon Linux AMI and others): readable by intake. */
export const AWS_PUBLIC_PARAMETER_PREFIX = '/aws/service/';

/**
 * Intake: one EventBridge rule per entry of the event-source catalog (`EVENT_SOURCES`), each with
 * its dead-letter queue, all targeting the intake function, which normalizes events into intents
 * and starts the workflows. Resources in `scope`: see ./shared.ts.
 */
export class IntakeCapability extends Construct {
  /** Normalizes incoming events into intents and starts workflows. */
  public readonly function: PhoenixFunction;
  /** Every rule of the event-source catalog, by its `ruleId` (also its construct id). */
  public readonly rules: Readonly<Record<string, events.Rule>>;
  /** One dead-letter queue per rule target, and the function's. */
  public readonly deadLetterQueues: readonly sqs.Queue[];
  /** One alarm per dead-letter queue. */
  public readonly deadLetterAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: IntakeCapabilityProps) {
    super(scope, id);
    const fn = capabilityFunction(scope, 'IntakeFunction', Handlers.intake, props);
    this.function = fn;
    fn.addEnvironment(Env.rolloutStateMachineArn, props.rollout.stateMachine.stateMachineArn);
    fn.addEnvironment(Env.replaceStateMachineArn, props.replace.workflow.stateMachine.stateMachineArn);
    fn.addEnvironment(Env.drainStateMachineArn, props.drain.stateMachine.stateMachineArn);
    fn.addEnvironment(Env.healthAlarmPrefixes, (props.healthAlarmPrefixes ?? ['phoenix-health-']).join(','));
    // Phoenix's own API calls (CloudTrail) are never drift.
    const ownRoles = [fn.role, ...(props.ownRoles ?? [])];
    fn.addEnvironment(
      Env.ownRoleNames,
      Fn.join(
        ',',
        ownRoles.map((role) => role.roleName),
      ),
    );

    const rules: Record<string, events.Rule> = {};
    const ruleQueues: sqs.Queue[] = [];
    for (const source of EVENT_SOURCES) {
      if (rules[source.ruleId] !== undefined) {
        throw new Error(`EVENT_SOURCES names the rule ${source.ruleId} twice`);
      }
      const rule = new events.Rule(scope, source.ruleId, {
        description: source.description,
        ...(source.bus === 'phoenix' ? { eventBus: props.state.eventBus } : {}),
        eventPattern: toCdkEventPattern(source.pattern, source.ruleId),
      });
      ruleQueues.push(
        targetWithDeadLetterQueue(rule, fn, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
          dropped: 'events EventBridge could not deliver to intake',
        }),
      );
      rules[source.ruleId] = rule;
    }
    this.rules = rules;
    this.deadLetterQueues = [...ruleQueues, fn.deadLetterQueue];
    this.deadLetterAlarms = deadLetterAlarms(this.deadLetterQueues);

    this.grantIntake(scope, props);
  }

  /** The rule of the catalog with this id (an error if the catalog has none). */
  public rule(ruleId: string): events.Rule {
    const found = this.rules[ruleId];
    if (found === undefined) throw new Error(`EVENT_SOURCES has no rule ${ruleId}`);
    return found;
  }

  private grantIntake(scope: Construct, props: IntakeCapabilityProps): void {
    const fn = this.function;
    describePolicy(scope, fn, 'IntakeDescribePolicy', [
      'ec2:DescribeImages',
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeAutoScalingInstances',
    ]);
    // Channel parameters (/phoenix/channels/<channel>), the golden-AMI parameters a fleet may follow
    // by its tag `phoenix:image-parameter` (under the prefixes the deployer allows), and AWS public
    // parameters (/aws/service/..., e.g. the latest Amazon Linux AMI): read-only, one at a time.
    const stack = Stack.of(scope);
    const parameterArn = (prefix: string) =>
      stack.formatArn({
        service: 'ssm',
        resource: 'parameter',
        resourceName: `${prefix.replace(/^\//, '')}*`,
      });
    const parameters = [CHANNEL_PARAMETER_PREFIX, ...(props.goldenImageParameterPrefixes ?? [])].map(
      parameterArn,
    );
    const publicParameters = stack.formatArn({
      service: 'ssm',
      account: '',
      resource: 'parameter',
      resourceName: `${AWS_PUBLIC_PARAMETER_PREFIX.replace(/^\//, '')}*`,
    });
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:GetParameter'],
        resources: [...parameters, publicParameters],
      }),
    );
    for (const resource of parameters) {
      acknowledge(fn.role, wildcardResourceFinding(scope, resource), [
        `Channels (${CHANNEL_PARAMETER_PREFIX}<channel>) and golden-AMI parameters (tag ${Tags.imageParameter}) are named at run time; ssm:GetParameter only (no write, no GetParametersByPath), under ${CHANNEL_PARAMETER_PREFIX} and the prefixes the deployer lists (goldenImageParameterPrefixes, default none) of this account and region.`,
      ]);
    }
    acknowledge(fn.role, wildcardResourceFinding(scope, publicParameters), [
      `AWS public parameters (${AWS_PUBLIC_PARAMETER_PREFIX}..., e.g. the latest Amazon Linux AMI) may be followed by a fleet's ${Tags.imageParameter} tag; they belong to no account and hold no secret; ssm:GetParameter only.`,
    ]);
    // Intake's idempotency records: claimed and settled by conditional UpdateItem, read on a
    // conflict; only on `EVENT#…` items, never on fleet records.
    props.state.grantIntakeRecords(fn, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    // Fleet records: is the fleet paused or pinned by a rollback (read), and an explicit
    // PublishImage releases the pin (conditional update). Never the global rollout slots.
    props.state.grantFleetRecords(fn, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    props.rollout.stateMachine.grantStartExecution(fn);
    props.replace.grantStartExecution(fn);
    props.drain.stateMachine.grantStartExecution(fn);
    props.replace.grantDescribeExecutions(fn);
    props.state.eventBus.grantPutEventsTo(fn);
  }
}
