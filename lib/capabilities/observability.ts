import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as eventschemas from 'aws-cdk-lib/aws-eventschemas';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DetailTypes, type OutcomeType } from '../../lambdas/domain/contract';
import { PhoenixMetrics } from '../../lambdas/domain/metric-names';
import { JSON_SCHEMA_DRAFT_04, OUTCOME_TYPES, outcomeSchema } from '../../lambdas/domain/outcome-schemas';

export interface ObservabilityProps {
  /** The workflows, by the name the dashboard gives them (`Rollout`, `Replace`, `Drain`). */
  readonly workflows: Readonly<Record<string, sfn.IStateMachine>>;
  /** The dead-letter queues whose depths the dashboard shows. */
  readonly deadLetterQueues: readonly sqs.IQueue[];
  /** The alarms the capabilities made (dead letters, workflows): shown with the outcome alarms. */
  readonly alarms: readonly cloudwatch.IAlarm[];
  /**
   * A CloudWatch dashboard of the control plane.
   * @default true
   */
  readonly dashboard?: boolean;
  /**
   * An EventBridge schema registry with the JSON Schema of every outcome event.
   * @default false
   */
  readonly schemaRegistry?: boolean;
}

/** The outcomes that need a human, each with its alarm's description (docs/alarms.md says what to do). */
export const OUTCOME_ALARMS = {
  [DetailTypes.RolloutFailed]:
    'Phoenix: a rollout and its rollback failed (RolloutFailed): the fleet may run two images and needs a human',
  [DetailTypes.ReplacementFailed]:
    'Phoenix: a replacement failed (ReplacementFailed): an instance that should have been replaced may still be serving',
  [DetailTypes.DrainFailed]:
    'Phoenix: a termination lifecycle hook could not be completed (DrainFailed): Auto Scaling terminates after its heartbeat timeout',
} as const satisfies Partial<Record<OutcomeType, string>>;

const PERIOD = Duration.minutes(5);
const ROLLOUT_OUTCOMES = OUTCOME_TYPES.filter((t) => t.startsWith('Rollout'));

/**
 * What an operator watches: the alarms on the outcomes that need a human (RolloutFailed,
 * ReplacementFailed, DrainFailed), the CloudWatch dashboard (rollouts by outcome, replacements by
 * cause, time to heal, executions in flight, dead-letter queue depths, circuit breaker, throttles,
 * every alarm's state) and, when asked, the EventBridge schema registry of the outcome events.
 * Built from the metrics Phoenix emits (lambdas/domain/metric-names.ts) and the workflows' and
 * queues' own. Resources in `scope` (see ./shared.ts): their logical ids are the control plane's.
 */
export class ObservabilityCapability extends Construct {
  /** One alarm per outcome that needs a human (`<DetailType>OutcomeAlarm`): at least one in 5 minutes. */
  public readonly outcomeAlarms: readonly cloudwatch.Alarm[];
  /** The dashboard (`dashboard: false`: none). */
  public readonly dashboard?: cloudwatch.Dashboard;
  /** The schema registry of the outcome events (only with `schemaRegistry: true`). */
  public readonly schemaRegistry?: eventschemas.CfnRegistry;
  /** One schema per outcome detail-type in `schemaRegistry`, named `phoenix@<DetailType>`. */
  public readonly schemas: readonly eventschemas.CfnSchema[];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.outcomeAlarms = Object.entries(OUTCOME_ALARMS).map(([type, description]) =>
      this.metricOutcome(type as OutcomeType).createAlarm(scope, `${type}OutcomeAlarm`, {
        alarmDescription: description,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    if (props.dashboard ?? true) this.dashboard = this.buildDashboard(scope, props);
    const registry = (props.schemaRegistry ?? false) ? outcomeRegistry(scope) : undefined;
    this.schemaRegistry = registry?.registry;
    this.schemas = registry?.schemas ?? [];
  }

  /** Outcomes of one detail-type put on the bus (metric `Outcomes`, Sum over 5 minutes). */
  public metricOutcome(detailType: OutcomeType, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return phoenixMetric(PhoenixMetrics.outcomes, { Outcome: detailType }, props);
  }

  /** AWS calls the handlers saw throttled beyond the SDK's retries (metric `Throttles`). */
  public metricThrottles(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return phoenixMetric(PhoenixMetrics.throttles, {}, { label: 'AWS calls throttled (handlers)', ...props });
  }

  private buildDashboard(scope: Construct, props: ObservabilityProps): cloudwatch.Dashboard {
    const workflows = Object.entries(props.workflows);
    const replace = props.workflows['Replace'];
    const graph = (
      title: string,
      left: cloudwatch.IMetric[],
      extra: Partial<cloudwatch.GraphWidgetProps> = {},
    ) => new cloudwatch.GraphWidget({ title, left, width: 12, height: 6, ...extra });
    // Ids unique within the graph: `<workflow>Started`, `<workflow>Succeeded`, ...
    const ends = (name: string, m: sfn.IStateMachine) => {
      const p = name.toLowerCase();
      const metrics = {
        [`${p}Started`]: m.metricStarted({ period: PERIOD }),
        [`${p}Succeeded`]: m.metricSucceeded({ period: PERIOD }),
        [`${p}Failed`]: m.metricFailed({ period: PERIOD }),
        [`${p}Aborted`]: m.metricAborted({ period: PERIOD }),
        [`${p}TimedOut`]: m.metricTimedOut({ period: PERIOD }),
      };
      const [started, ...rest] = Object.keys(metrics).map((id) => `FILL(${id}, 0)`);
      return { expression: `RUNNING_SUM(${[started, ...rest].join(' - ')})`, usingMetrics: metrics };
    };
    const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
      defaultInterval: Duration.hours(6),
    });
    dashboard.addWidgets(
      graph(
        'Rollouts by outcome',
        ROLLOUT_OUTCOMES.map((t) => this.metricOutcome(t, { label: t })),
        { stacked: true },
      ),
      graph('Replacements by cause', [
        new cloudwatch.MathExpression({
          expression: `SEARCH('{${PhoenixMetrics.namespace},Cause,Outcome,service} MetricName="${PhoenixMetrics.replacements}" service="${PhoenixMetrics.service}"', 'Sum', ${PERIOD.toSeconds()})`,
          label: '', // each series keeps CloudWatch's own label: its Outcome and Cause
          period: PERIOD,
        }),
      ]),
    );
    dashboard.addWidgets(
      graph('Time to heal: the event seen → the replacement serving (seconds)', [
        ...(['p50', 'p90', 'Maximum'] as const).map(
          (statistic) =>
            new cloudwatch.MathExpression({
              expression: `SEARCH('{${PhoenixMetrics.namespace},Cause,service} MetricName="${PhoenixMetrics.timeToHeal}" service="${PhoenixMetrics.service}"', '${statistic}', ${PERIOD.toSeconds()})`,
              label: statistic,
              period: PERIOD,
            }),
        ),
        ...(replace === undefined
          ? []
          : [replace.metricTime({ period: PERIOD, statistic: 'p90', label: 'Replace execution time p90' })]),
      ]),
      graph(
        'Executions in flight (started minus ended within the range)',
        workflows.map(
          ([name, machine]) =>
            new cloudwatch.MathExpression({
              ...ends(name, machine),
              label: name,
              period: PERIOD,
            }),
        ),
      ),
    );
    dashboard.addWidgets(
      graph(
        'Dead-letter queue depths',
        props.deadLetterQueues.map((q) =>
          q.metricApproximateNumberOfMessagesVisible({
            period: PERIOD,
            statistic: 'Maximum',
            label: q.node.id,
          }),
        ),
      ),
      graph('Circuit breaker: opened and closed', [
        this.metricOutcome(DetailTypes.FleetCircuitOpen, { label: 'opened (FleetCircuitOpen)' }),
        this.metricOutcome(DetailTypes.FleetCircuitClosed, { label: 'closed (FleetCircuitClosed)' }),
      ]),
    );
    dashboard.addWidgets(
      graph('Throttles', [
        this.metricThrottles(),
        ...workflows.map(([name, machine]) =>
          machine.metricThrottled({ period: PERIOD, label: `${name} executions throttled` }),
        ),
      ]),
      graph(
        'Outcomes that need a human',
        Object.keys(OUTCOME_ALARMS).map((t) => this.metricOutcome(t as OutcomeType, { label: t })),
      ),
    );
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms (docs/alarms.md)',
        alarms: [...this.outcomeAlarms, ...props.alarms],
        width: 24,
        height: 6,
      }),
    );
    return dashboard;
  }
}

/** A metric of the Phoenix namespace with its dimensions (and Powertools' `service`), Sum over 5 minutes. */
function phoenixMetric(
  metricName: string,
  dimensions: Readonly<Record<string, string>>,
  props: cloudwatch.MetricOptions,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: PhoenixMetrics.namespace,
    metricName,
    dimensionsMap: { service: PhoenixMetrics.service, ...dimensions },
    statistic: 'Sum',
    period: PERIOD,
    ...props,
  });
}

/** The schema registry of the outcome events: one `JSONSchemaDraft4` schema per detail-type. */
function outcomeRegistry(scope: Construct) {
  const registry = new eventschemas.CfnRegistry(scope, 'OutcomeSchemaRegistry', {
    description: 'Phoenix outcome events (source phoenix on the Phoenix bus): one schema per detail-type',
  });
  const schemas = OUTCOME_TYPES.map((type) => {
    const schema = new eventschemas.CfnSchema(scope, `${type}OutcomeSchema`, {
      registryName: registry.attrRegistryName,
      schemaName: `phoenix@${type}`,
      type: 'JSONSchemaDraft4',
      content: JSON.stringify(outcomeSchema(type, JSON_SCHEMA_DRAFT_04)),
      description: `Phoenix outcome ${type}`,
    });
    return schema;
  });
  return { registry, schemas };
}
