import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tags } from '../../lambdas/domain/contract';
import type { PhoenixFunction } from '../../lib';
import {
  allowStatementsOf,
  asArray,
  policyStatements,
  synthPhoenix,
  type Json,
  type SynthesizedPhoenix,
} from './support';

let phoenix: SynthesizedPhoenix;
let statements: ReturnType<typeof policyStatements>;

beforeAll(() => {
  phoenix = synthPhoenix();
  statements = policyStatements(phoenix.resources);
});
afterAll(() => phoenix.dispose());

const statementsOf = (fn: PhoenixFunction): Record<string, Json>[] => allowStatementsOf(phoenix, fn.role);

function granting(fn: PhoenixFunction, action: string): Record<string, Json>[] {
  return statementsOf(fn).filter((s) => asArray<string>(s.Action).includes(action));
}

const AUTOSCALING_MUTATIONS = [
  'autoscaling:UpdateAutoScalingGroup',
  'autoscaling:SetDesiredCapacity',
  'autoscaling:TerminateInstanceInAutoScalingGroup',
  'autoscaling:SuspendProcesses',
  'autoscaling:ResumeProcesses',
];

describe('IAM', () => {
  it('grants no wildcard action anywhere', () => {
    expect(statements.length).toBeGreaterThan(0);
    const wildcards = statements
      .filter(({ statement }) => statement.Effect === 'Allow')
      .flatMap(({ policyId, statement }) =>
        asArray<string>(statement.Action)
          .filter((a) => a.includes('*'))
          .map((a) => `${policyId}: ${a}`),
      );
    expect(wildcards).toEqual([]);
    expect(statements.filter(({ statement }) => statement.NotAction !== undefined)).toEqual([]);
  });

  it('writes no partition, account or region literal into an ARN', () => {
    expect(JSON.stringify(phoenix.template.toJSON())).not.toMatch(/arn:aws(-[a-z]+)*:/);
  });

  it('lets only rollout-fleet read alarms, and only the alarms of this account and region', () => {
    const cp = phoenix.stack.controlPlane;
    const found = granting(cp.rolloutFleetFunction, 'cloudwatch:DescribeAlarms');
    expect(found).toHaveLength(1);
    const resource = JSON.stringify(found[0]!.Resource);
    expect(resource).toContain(':cloudwatch:');
    expect(resource).toContain('AWS::Region');
    expect(resource).toContain('AWS::AccountId');
    expect(resource).toContain(':alarm:*');
    for (const other of [cp.intakeFunction, cp.rolloutRecordFunction, cp.replaceFunction]) {
      expect(granting(other, 'cloudwatch:DescribeAlarms')).toEqual([]);
    }
  });

  it('lets rollout-fleet change only Auto Scaling groups tagged as managed', () => {
    const fleet = phoenix.stack.controlPlane.rolloutFleetFunction;
    for (const action of AUTOSCALING_MUTATIONS) {
      const found = granting(fleet, action);
      expect(found, action).not.toHaveLength(0);
      for (const s of found) {
        expect(s.Condition, action).toStrictEqual({ StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } });
        expect(JSON.stringify(s.Resource)).toContain(':autoScalingGroup:*:autoScalingGroupName/*');
      }
    }
  });

  it('gives no role an unconditioned Auto Scaling mutation', () => {
    const unconditioned = statements.filter(
      ({ statement }) =>
        statement.Effect === 'Allow' &&
        asArray<string>(statement.Action).some(
          (a) => a.startsWith('autoscaling:') && !a.startsWith('autoscaling:Describe'),
        ) &&
        statement.Condition?.StringLike?.[`aws:ResourceTag/${Tags.fleet}`] !== '*' &&
        // Blue-green: groups in transition (tag phoenix:rollout), and the green group's creation
        // (request tags), see test/infra/blue-green-iam.test.ts.
        statement.Condition?.StringLike?.[`aws:ResourceTag/${Tags.rollout}`] !== '*' &&
        statement.Condition?.StringLike?.[`aws:RequestTag/${Tags.rollout}`] !== '*',
    );
    expect(unconditioned).toEqual([]);
  });

  it('lets rollout-fleet pass roles to EC2 only', () => {
    const found = granting(phoenix.stack.controlPlane.rolloutFleetFunction, 'iam:PassRole');
    expect(found).not.toHaveLength(0);
    for (const s of found) {
      expect(s.Condition).toStrictEqual({ StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
    }
    // Nobody else may pass roles.
    const others = statements.filter(
      ({ statement }) =>
        statement.Effect === 'Allow' &&
        asArray<string>(statement.Action).includes('iam:PassRole') &&
        !found.includes(statement),
    );
    expect(others).toEqual([]);
  });

  it('lets intake start executions of the rollout, replace and drain state machines only', () => {
    const cp = phoenix.stack.controlPlane;
    const found = granting(cp.intakeFunction, 'states:StartExecution');
    expect(found).not.toHaveLength(0);
    expect(found.flatMap((s) => asArray(s.Resource))).toStrictEqual([
      { Ref: phoenix.logicalId(cp.rolloutWorkflow.stateMachine) },
      { Ref: phoenix.logicalId(cp.replaceWorkflow.stateMachine) },
      { Ref: phoenix.logicalId(cp.drainWorkflow.stateMachine) },
    ]);
  });

  it('lets replace scale and terminate only in Auto Scaling groups tagged as managed, and never update a group', () => {
    const replace = phoenix.stack.controlPlane.replaceFunction;
    for (const action of [
      'autoscaling:SetDesiredCapacity',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
    ]) {
      const found = granting(replace, action);
      expect(found, action).toHaveLength(1);
      expect(found[0]!.Condition, action).toStrictEqual({
        StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' },
      });
      expect(JSON.stringify(found[0]!.Resource)).toContain(':autoScalingGroup:*:autoScalingGroupName/*');
    }
    expect(granting(replace, 'autoscaling:UpdateAutoScalingGroup')).toEqual([]);
    expect(granting(replace, 'ec2:RunInstances')).toEqual([]);
    expect(granting(replace, 'iam:PassRole')).toEqual([]);
  });

  it('lets replace write only the taint and drained tags, only on instances an Auto Scaling group launched', () => {
    const found = granting(phoenix.stack.controlPlane.replaceFunction, 'ec2:CreateTags');
    expect(found).toHaveLength(1);
    expect(asArray(found[0]!.Action)).toStrictEqual(['ec2:CreateTags']);
    expect(JSON.stringify(found[0]!.Resource)).toMatch(/:ec2:.*:instance\/\*"/);
    expect(JSON.stringify(found[0]!.Resource)).toContain('AWS::AccountId');
    expect(found[0]!.Condition).toStrictEqual({
      StringLike: { 'aws:ResourceTag/aws:autoscaling:groupName': '*' },
      'ForAllValues:StringEquals': { 'aws:TagKeys': [Tags.tainted, Tags.drained] },
      Null: { 'aws:TagKeys': 'false' },
    });
    // Nobody else tags instances.
    const others = statements.filter(
      ({ statement }) =>
        statement.Effect === 'Allow' &&
        asArray<string>(statement.Action).includes('ec2:CreateTags') &&
        !found.includes(statement),
    );
    expect(others).toEqual([]);
  });

  it('lets replace read and update only fleet records (FLEET# keys), and put events on the Phoenix bus only', () => {
    const cp = phoenix.stack.controlPlane;
    const tableArn = { 'Fn::GetAtt': [phoenix.logicalId(cp.table), 'Arn'] };
    const busArn = { 'Fn::GetAtt': [phoenix.logicalId(cp.eventBus), 'Arn'] };
    const dynamo = statementsOf(cp.replaceFunction).filter((s) =>
      asArray<string>(s.Action).some((a) => a.startsWith('dynamodb:')),
    );
    expect(
      dynamo.map((s) => ({
        Action: asArray(s.Action),
        Resource: asArray(s.Resource),
        Condition: s.Condition,
      })),
    ).toStrictEqual([
      {
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        Resource: [tableArn],
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] } },
      },
    ]);
    expect(
      granting(cp.replaceFunction, 'events:PutEvents').flatMap((s) => asArray<unknown>(s.Resource)),
    ).toStrictEqual([busArn]);
    expect(granting(cp.replaceFunction, 'states:StartExecution')).toEqual([]);
  });

  it('lets intake read (GetParameter only) any parameter of its account and region, and write none', () => {
    const intake = phoenix.stack.controlPlane.intakeFunction;
    const found = granting(intake, 'ssm:GetParameter');
    expect(found).toHaveLength(1);
    expect(asArray(found[0]!.Action)).toStrictEqual(['ssm:GetParameter']);
    expect(asArray(found[0]!.Resource)).toStrictEqual([
      {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':ssm:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':parameter/*',
          ],
        ],
      },
    ]);
    const ssmActions = statementsOf(intake).flatMap((s) =>
      asArray<string>(s.Action).filter((a) => a.startsWith('ssm:')),
    );
    expect(ssmActions).toStrictEqual(['ssm:GetParameter']);
  });

  it('lets intake describe Auto Scaling instances (Describe, in the describe-only policy)', () => {
    const found = granting(
      phoenix.stack.controlPlane.intakeFunction,
      'autoscaling:DescribeAutoScalingInstances',
    );
    expect(found).toHaveLength(1);
    expect(found[0]!.Resource).toBe('*');
    expect(asArray<string>(found[0]!.Action).every((a) => /^[a-z0-9]+:Describe[A-Za-z]+$/.test(a))).toBe(
      true,
    );
  });

  it('lets intake read and update only its idempotency records (EVENT# keys) and fleet records (FLEET# keys: pause, pin) on the fleet table', () => {
    const cp = phoenix.stack.controlPlane;
    const tableArn = { 'Fn::GetAtt': [phoenix.logicalId(cp.table), 'Arn'] };
    const dynamo = statementsOf(cp.intakeFunction).filter((s) =>
      asArray<string>(s.Action).some((a) => a.startsWith('dynamodb:')),
    );
    expect(
      dynamo.map((s) => ({
        Action: asArray(s.Action),
        Resource: asArray(s.Resource),
        Condition: s.Condition,
      })),
    ).toStrictEqual([
      {
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        Resource: [tableArn],
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['EVENT#*'] } },
      },
      {
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        Resource: [tableArn],
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] } },
      },
    ]);
  });

  it('lets only rollout-record read and update fleet records (item by item), and intake and rollout-record put events on the Phoenix bus', () => {
    const cp = phoenix.stack.controlPlane;
    const tableArn = { 'Fn::GetAtt': [phoenix.logicalId(cp.table), 'Arn'] };
    const busArn = { 'Fn::GetAtt': [phoenix.logicalId(cp.eventBus), 'Arn'] };
    for (const action of ['dynamodb:GetItem', 'dynamodb:UpdateItem']) {
      expect(
        granting(cp.rolloutRecordFunction, action).flatMap((s) => asArray<unknown>(s.Resource)),
      ).toContainEqual(tableArn);
    }
    for (const action of [
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
      'dynamodb:Scan',
      'dynamodb:BatchWriteItem',
    ]) {
      expect(granting(cp.rolloutRecordFunction, action)).toEqual([]);
    }
    expect(granting(cp.intakeFunction, 'dynamodb:PutItem')).toEqual([]);
    expect(granting(cp.rolloutFleetFunction, 'dynamodb:PutItem')).toEqual([]);
    expect(granting(cp.rolloutFleetFunction, 'dynamodb:UpdateItem')).toEqual([]);
    for (const fn of [cp.intakeFunction, cp.rolloutRecordFunction]) {
      expect(granting(fn, 'events:PutEvents').flatMap((s) => asArray<unknown>(s.Resource))).toStrictEqual([
        busArn,
      ]);
    }
    expect(granting(cp.rolloutFleetFunction, 'events:PutEvents')).toEqual([]);
  });

  it('lets drain deregister from target groups only, and only drain', () => {
    const cp = phoenix.stack.controlPlane;
    const found = granting(cp.drainFunction, 'elasticloadbalancing:DeregisterTargets');
    expect(found).toHaveLength(1);
    expect(asArray(found[0]!.Action)).toStrictEqual(['elasticloadbalancing:DeregisterTargets']);
    expect(JSON.stringify(found[0]!.Resource)).toMatch(/:elasticloadbalancing:.*:targetgroup\/\*"/);
    expect(JSON.stringify(found[0]!.Resource)).toContain('AWS::AccountId');
    for (const fn of [cp.replaceFunction, cp.intakeFunction, cp.reconcileFunction, cp.rolloutFleetFunction]) {
      expect(granting(fn, 'elasticloadbalancing:DeregisterTargets')).toEqual([]);
    }
  });

  it('lets drain send commands only with documents of its account and region, to instances an Auto Scaling group launched', () => {
    const cp = phoenix.stack.controlPlane;
    const found = granting(cp.drainFunction, 'ssm:SendCommand');
    expect(found).toHaveLength(2);
    const documents = found.find((s) => JSON.stringify(s.Resource).includes(':document/'))!;
    expect(documents.Condition).toBeUndefined();
    expect(JSON.stringify(documents.Resource)).toContain('AWS::AccountId');
    const instances = found.find((s) => JSON.stringify(s.Resource).includes(':instance/'))!;
    expect(instances.Condition).toStrictEqual({
      StringLike: { 'ssm:resourceTag/aws:autoscaling:groupName': '*' },
    });
    expect(granting(cp.replaceFunction, 'ssm:SendCommand')).toEqual([]);
  });

  it('lets drain complete lifecycle actions of managed groups only, and reconcile keep the hook of managed groups only', () => {
    const cp = phoenix.stack.controlPlane;
    const managed = { StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } };
    const complete = granting(cp.drainFunction, 'autoscaling:CompleteLifecycleAction');
    expect(complete).toHaveLength(1);
    expect(complete[0]!.Condition).toStrictEqual(managed);
    for (const action of ['autoscaling:PutLifecycleHook', 'autoscaling:DeleteLifecycleHook']) {
      const found = granting(cp.reconcileFunction, action);
      expect(found, action).toHaveLength(1);
      expect(found[0]!.Condition, action).toStrictEqual(managed);
    }
    const tags = granting(cp.reconcileFunction, 'autoscaling:CreateOrUpdateTags');
    expect(tags).toHaveLength(1);
    expect(tags[0]!.Condition).toStrictEqual({
      ...managed,
      'ForAllValues:StringEquals': { 'aws:TagKeys': [Tags.drainHook] },
      Null: { 'aws:TagKeys': 'false' },
    });
    expect(granting(cp.drainFunction, 'autoscaling:TerminateInstanceInAutoScalingGroup')).toEqual([]);
  });
});
