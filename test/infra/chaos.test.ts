/** Chaos mode's infrastructure: its schedule rule, its function and its least-privilege role. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { Template } from 'aws-cdk-lib/assertions';
import { Env, Handlers, HANDLER_METADATA_KEY, Tags } from '../../lambdas/domain/contract';
import { PhoenixControlPlane } from '../../lib';
import { allowStatementsOf, asArray, synthPhoenix, type Json, type SynthesizedPhoenix } from './support';

let phoenix: SynthesizedPhoenix;

beforeAll(() => {
  phoenix = synthPhoenix();
});
afterAll(() => phoenix.dispose());

describe('chaos mode', () => {
  it('a schedule rule, every hour by default, targets the chaos function with a dead-letter queue', () => {
    const cp = phoenix.stack.controlPlane;
    const props = phoenix.resources[phoenix.logicalId(cp.chaosRule)]!.Properties as Json;
    expect(props.ScheduleExpression).toBe('rate(1 hour)');
    expect(props.EventPattern).toBeUndefined();
    expect(props.EventBusName).toBeUndefined();
    expect(props.Targets).toHaveLength(1);
    expect(props.Targets[0].Arn).toStrictEqual({
      'Fn::GetAtt': [phoenix.logicalId(cp.chaosFunction), 'Arn'],
    });
    expect(props.Targets[0].DeadLetterConfig).toBeDefined();
    expect(props.Targets[0].RetryPolicy).toMatchObject({ MaximumRetryAttempts: 2 });
    const queueId = props.Targets[0].DeadLetterConfig.Arn['Fn::GetAtt'][0] as string;
    expect(cp.deadLetterQueues.map((q) => phoenix.logicalId(q))).toContain(queueId);
  });

  it('the function is bound to the chaos handler and knows its period, the table and the bus', () => {
    const cp = phoenix.stack.controlPlane;
    expect(cp.chaosFunction.handlerName).toBe(Handlers.chaos);
    const fn = phoenix.resources[phoenix.logicalId(cp.chaosFunction)]!;
    expect(fn.Metadata?.[HANDLER_METADATA_KEY]).toBe(Handlers.chaos);
    const vars = (fn.Properties as Json).Environment.Variables as Record<string, unknown>;
    expect(vars[Env.chaosPeriodSeconds]).toBe('3600');
    expect(vars[Env.tableName]).toBeDefined();
    expect(vars[Env.eventBusName]).toBeDefined();
  });

  it("its role is one of Phoenix's own for intake (its terminations are not drift)", () => {
    const cp = phoenix.stack.controlPlane;
    const intake = phoenix.resources[phoenix.logicalId(cp.intakeFunction)]!;
    const own = JSON.stringify((intake.Properties as Json).Environment.Variables[Env.ownRoleNames]);
    expect(own).toContain(JSON.stringify({ Ref: phoenix.logicalId(cp.chaosFunction.role) }));
  });

  it('chaosSchedule sets the schedule and the period; a cron schedule is refused', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'S');
    new PhoenixControlPlane(stack, 'P', { chaosSchedule: events.Schedule.rate(Duration.minutes(30)) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(30 minutes)' });
    const fns = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Metadata: { [HANDLER_METADATA_KEY]: Handlers.chaos },
      }),
    ) as Json[];
    expect(fns).toHaveLength(1);
    expect(fns[0].Properties.Environment.Variables[Env.chaosPeriodSeconds]).toBe('1800');

    const other = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'T');
    expect(
      () =>
        new PhoenixControlPlane(other, 'P', {
          chaosSchedule: events.Schedule.cron({ minute: '0' }),
        }),
    ).toThrow(/chaosSchedule must be a rate\(\.\.\.\) schedule/);
  });

  it('least privilege: describe groups, terminate in managed chaos groups only, fleet records, the bus', () => {
    const cp = phoenix.stack.controlPlane;
    const all = allowStatementsOf(phoenix, cp.chaosFunction.role);
    const actions = [...new Set(all.flatMap((s) => asArray<string>(s.Action)))].sort();
    expect(actions.filter((a) => !/^(logs|xray|sqs):/.test(a))).toEqual([
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
      'dynamodb:BatchGetItem',
      'dynamodb:UpdateItem',
      'events:PutEvents',
    ]);
    const terminate = all.filter((s) =>
      asArray<string>(s.Action).includes('autoscaling:TerminateInstanceInAutoScalingGroup'),
    );
    expect(terminate).toHaveLength(1);
    expect(asArray<string>(terminate[0]!.Action)).toEqual([
      'autoscaling:TerminateInstanceInAutoScalingGroup',
    ]);
    expect(terminate[0]!.Condition).toStrictEqual({
      StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*', [`aws:ResourceTag/${Tags.chaos}`]: '*' },
    });
    expect(JSON.stringify(terminate[0]!.Resource)).toContain('autoScalingGroupName/*');
    const describeOnly = all.filter((s) => asArray<unknown>(s.Resource).includes('*'));
    expect(describeOnly.flatMap((s) => asArray<string>(s.Action)).filter((a) => !/^(xray):/.test(a))).toEqual(
      ['autoscaling:DescribeAutoScalingGroups'],
    );
    const dynamo = all.filter((s) => asArray<string>(s.Action).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.map((s) => s.Condition)).toStrictEqual([
      { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] } },
    ]);
    const put = all.filter((s) => asArray<string>(s.Action).includes('events:PutEvents'));
    expect(put.flatMap((s) => asArray<unknown>(s.Resource))).toStrictEqual([
      { 'Fn::GetAtt': [phoenix.logicalId(cp.eventBus), 'Arn'] },
    ]);
  });
});
