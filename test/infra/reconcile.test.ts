/** The reconcile sweep's infrastructure: its schedule rule, its function and its least-privilege role. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { Template } from 'aws-cdk-lib/assertions';
import { Env, Handlers, Tags } from '../../lambdas/domain/contract';

const HOOK_ACTIONS = [
  'autoscaling:PutLifecycleHook',
  'autoscaling:DeleteLifecycleHook',
  'autoscaling:CreateOrUpdateTags',
  'autoscaling:DeleteTags',
];
import { PhoenixControlPlane, type PhoenixFunction } from '../../lib';
import { allowStatementsOf, asArray, synthPhoenix, type Json, type SynthesizedPhoenix } from './support';

let phoenix: SynthesizedPhoenix;

beforeAll(() => {
  phoenix = synthPhoenix();
});
afterAll(() => phoenix.dispose());

const statementsOf = (fn: PhoenixFunction): Record<string, Json>[] => allowStatementsOf(phoenix, fn.role);

describe('the reconcile sweep', () => {
  it('a schedule rule, every 5 minutes by default, targets the reconcile function with a dead-letter queue', () => {
    const cp = phoenix.stack.controlPlane;
    const rule = phoenix.resources[phoenix.logicalId(cp.reconcileRule)]!;
    const props = rule.Properties as Json;
    expect(props.ScheduleExpression).toBe('rate(5 minutes)');
    expect(props.EventPattern).toBeUndefined();
    expect(props.Targets).toHaveLength(1);
    expect(props.Targets[0].Arn).toStrictEqual({
      'Fn::GetAtt': [phoenix.logicalId(cp.reconcileFunction), 'Arn'],
    });
    expect(props.Targets[0].DeadLetterConfig).toBeDefined();
    expect(props.Targets[0].RetryPolicy).toMatchObject({ MaximumRetryAttempts: 2 });
  });

  it('reconcileSchedule sets the schedule', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'S');
    new PhoenixControlPlane(stack, 'P', { reconcileSchedule: events.Schedule.rate(Duration.minutes(15)) });
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(15 minutes)',
    });
  });

  it('the function knows the Replace state machine, its timeout, the table and the bus', () => {
    const cp = phoenix.stack.controlPlane;
    expect(cp.reconcileFunction.handlerName).toBe(Handlers.reconcile);
    const fn = phoenix.resources[phoenix.logicalId(cp.reconcileFunction)]!;
    const vars = (fn.Properties as Json).Environment.Variables as Record<string, unknown>;
    expect(vars[Env.replaceStateMachineArn]).toStrictEqual({
      Ref: phoenix.logicalId(cp.replaceWorkflow.stateMachine),
    });
    expect(vars[Env.replaceTimeoutSeconds]).toBe('3600');
    expect(vars[Env.tableName]).toBeDefined();
    expect(vars[Env.eventBusName]).toBeDefined();
  });

  it('least privilege: describe only, StartExecution on the Replace state machine, fleet records, the Phoenix bus', () => {
    const cp = phoenix.stack.controlPlane;
    const all = statementsOf(cp.reconcileFunction);
    const actions = [...new Set(all.flatMap((s) => asArray<string>(s.Action)))].sort();
    const unexpected = actions.filter(
      (a) =>
        !/^(ec2|autoscaling):Describe/.test(a) &&
        ![
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:UpdateItem',
          'states:StartExecution',
          'states:DescribeExecution',
          'events:PutEvents',
        ].includes(a) &&
        !HOOK_ACTIONS.includes(a) &&
        !/^(logs|xray|sqs):/.test(a),
    );
    expect(unexpected).toEqual([]);
    // The drain hook (installed by the sweep): only on groups tagged as fleets.
    for (const s of all.filter((st) => asArray<string>(st.Action).some((a) => HOOK_ACTIONS.includes(a)))) {
      expect(s.Condition).toMatchObject({ StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } });
    }
    expect(actions).toEqual(
      expect.arrayContaining([
        'autoscaling:DescribeAutoScalingGroups',
        'ec2:DescribeImages',
        'ec2:DescribeInstances',
        'states:StartExecution',
        'events:PutEvents',
      ]),
    );
    const start = all.filter((s) => asArray<string>(s.Action).includes('states:StartExecution'));
    expect(start.flatMap((s) => asArray<unknown>(s.Resource))).toStrictEqual([
      { Ref: phoenix.logicalId(cp.replaceWorkflow.stateMachine) },
    ]);
    // Re-replacement: DescribeExecution on the Replace state machine's executions only.
    const describe = all.filter((s) => asArray<string>(s.Action).includes('states:DescribeExecution'));
    expect(describe.flatMap((s) => asArray<string>(s.Action))).toEqual(['states:DescribeExecution']);
    expect(JSON.stringify(describe.flatMap((s) => asArray<unknown>(s.Resource)))).toContain(':execution:');
    expect(JSON.stringify(describe.flatMap((s) => asArray<unknown>(s.Resource)))).toContain(
      phoenix.logicalId(cp.replaceWorkflow.stateMachine),
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
