/**
 * The observability of the control plane (lib/capabilities/observability.ts): the alarms on the
 * outcomes that need a human, the dashboard and its widgets (`dashboard: false` removes it), and
 * the optional schema registry of the outcome events.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_TYPES } from '../../lambdas/domain/outcome-schemas';
import { PhoenixControlPlane, type PhoenixControlPlaneProps } from '../../lib';
import { type Json, type SynthesizedPhoenix, synthPhoenix } from './support';

/** A control plane alone in a stack, functions not bundled. */
function controlPlane(props: PhoenixControlPlaneProps): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Observed');
  new PhoenixControlPlane(stack, 'ControlPlane', props);
  return Template.fromStack(stack);
}

/** The dashboard body as JSON (its `Fn::Join` with the region and the ARNs put back as text). */
function dashboardBody(template: Template): Json {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as Json[];
  const parts = (dashboard.Properties.DashboardBody['Fn::Join'][1] as Json[]).map((p) =>
    typeof p === 'string' ? p : 'TOKEN',
  );
  return JSON.parse(parts.join(''));
}

let phoenix: SynthesizedPhoenix;
beforeAll(() => {
  phoenix = synthPhoenix();
});

describe('outcome alarms', () => {
  it.each(['RolloutFailed', 'ReplacementFailed', 'DrainFailed'])(
    'alarms on one %s outcome in 5 minutes',
    (outcome) => {
      phoenix.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Phoenix',
        MetricName: 'Outcomes',
        Dimensions: Match.arrayEquals([
          { Name: 'Outcome', Value: outcome },
          { Name: 'service', Value: 'phoenix' },
        ]),
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmDescription: Match.stringLikeRegexp(`\\(${outcome}\\)`),
      });
    },
  );

  it('does not alarm on handled outcomes', () => {
    const handled = ['RolloutRejected', 'RolloutRolledBack', 'RolloutSuperseded', 'ReplacementSkipped'];
    const alarms = Object.values(phoenix.template.findResources('AWS::CloudWatch::Alarm')) as Json[];
    const outcomes = alarms.flatMap((a) =>
      (a.Properties.Dimensions ?? []).filter((d: Json) => d.Name === 'Outcome').map((d: Json) => d.Value),
    );
    expect(outcomes.filter((o: string) => handled.includes(o))).toEqual([]);
  });
});

describe('dashboard', () => {
  it('shows rollouts by outcome, replacements by cause, time to heal, executions in flight, DLQ depths, circuit, throttles, alarms', () => {
    const body = dashboardBody(phoenix.template);
    const titles = (body.widgets as Json[]).map((w) => w.properties.title as string);
    expect(titles).toEqual([
      'Rollouts by outcome',
      'Replacements by cause',
      'Time to heal: the event seen → the replacement serving (seconds)',
      'Executions in flight (started minus ended within the range)',
      'Dead-letter queue depths',
      'Circuit breaker: opened and closed',
      'Throttles',
      'Outcomes that need a human',
      'Alarms (docs/alarms.md)',
    ]);
    const widget = (title: string) => (body.widgets as Json[]).find((w) => w.properties.title === title);
    const rollouts = JSON.stringify(widget('Rollouts by outcome').properties.metrics);
    for (const outcome of ['RolloutSucceeded', 'RolloutRolledBack', 'RolloutRejected', 'RolloutFailed'])
      expect(rollouts).toContain(`"Outcome","${outcome}"`);
    expect(JSON.stringify(widget('Replacements by cause').properties.metrics)).toContain(
      'MetricName=\\"Replacements\\"',
    );
    const heal = JSON.stringify(
      widget('Time to heal: the event seen → the replacement serving (seconds)').properties.metrics,
    );
    expect(heal).toContain('MetricName=\\"TimeToHeal\\"');
    expect(heal).toContain('"ExecutionTime"');
    const inFlight = JSON.stringify(
      widget('Executions in flight (started minus ended within the range)').properties.metrics,
    );
    for (const name of ['Rollout', 'Replace', 'Drain']) expect(inFlight).toContain(`"label":"${name}"`);
    expect(JSON.stringify(widget('Throttles').properties.metrics)).toContain('"Throttles"');
    const depths = widget('Dead-letter queue depths').properties.metrics as Json[];
    expect(depths).toHaveLength(phoenix.stack.controlPlane.deadLetterQueues.length);
    const alarms = widget('Alarms (docs/alarms.md)').properties.alarms as Json[];
    expect(alarms).toHaveLength(Object.keys(phoenix.template.findResources('AWS::CloudWatch::Alarm')).length);
  });

  it('is not created with dashboard: false, the alarms are', () => {
    const template = controlPlane({ dashboard: false });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Outcomes',
      Dimensions: Match.arrayWith([{ Name: 'Outcome', Value: 'RolloutFailed' }]),
    });
    template.resourceCountIs('AWS::EventSchemas::Registry', 0);
  });

  it('rejects a dashboard or schemaRegistry that is not a boolean, quoting it', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Invalid');
    expect(
      () =>
        new PhoenixControlPlane(stack, 'ControlPlane', {
          dashboard: 'false' as unknown as boolean,
          schemaRegistry: 1 as unknown as boolean,
        }),
    ).toThrow(/dashboard must be true or false, got "false"; schemaRegistry must be true or false, got 1/);
  });
});

describe('schema registry', () => {
  it('is not created by default', () => {
    phoenix.template.resourceCountIs('AWS::EventSchemas::Registry', 0);
  });

  it('holds one draft-04 schema per outcome with schemaRegistry: true', () => {
    const template = controlPlane({ schemaRegistry: true, dashboard: false });
    template.resourceCountIs('AWS::EventSchemas::Registry', 1);
    const schemas = Object.values(template.findResources('AWS::EventSchemas::Schema')) as Json[];
    expect(schemas.map((s) => s.Properties.SchemaName).sort()).toEqual(
      OUTCOME_TYPES.map((t) => `phoenix@${t}`).sort(),
    );
    for (const schema of schemas) {
      expect(schema.Properties.Type).toBe('JSONSchemaDraft4');
      expect(schema.Properties.RegistryName).toEqual({ 'Fn::GetAtt': [expect.any(String), 'RegistryName'] });
      const content = JSON.parse(schema.Properties.Content);
      expect(content.$schema).toBe('http://json-schema.org/draft-04/schema#');
      expect(content.properties['detail-type'].enum).toEqual([
        schema.Properties.SchemaName.slice('phoenix@'.length),
      ]);
    }
  });
});
