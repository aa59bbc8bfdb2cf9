import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tags } from '../../lambdas/domain/contract';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { GREEN_GROUP_NAME_PATTERN } from '../../lambdas/domain/adoption';
import { PhoenixControlPlane, type PhoenixFunction } from '../../lib';
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

  it('lets rollout-fleet change only Auto Scaling groups tagged as managed (and green groups by their generated name)', () => {
    const fleet = phoenix.stack.controlPlane.rolloutFleetFunction;
    for (const action of AUTOSCALING_MUTATIONS) {
      const found = granting(fleet, action);
      expect(found, action).not.toHaveLength(0);
      for (const s of found) {
        const resource = JSON.stringify(s.Resource);
        if (resource.includes(`autoScalingGroupName/${GREEN_GROUP_NAME_PATTERN}`)) {
          // Green (blue-green) is updated and scaled before it carries phoenix:fleet.
          expect(s.Condition, action).toStrictEqual({
            StringLike: { [`aws:ResourceTag/${Tags.greenOf}`]: '*' },
          });
        } else {
          expect(s.Condition, action).toStrictEqual({
            StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' },
          });
          expect(resource).toContain(':autoScalingGroup:*:autoScalingGroupName/*');
        }
      }
    }
  });

  it('gives no role an unconditioned Auto Scaling mutation', () => {
    const conditioned = (c: Record<string, Record<string, Json>> | undefined) =>
      [Tags.fleet, Tags.greenOf, Tags.blueOf].some((t) => c?.StringLike?.[`aws:ResourceTag/${t}`] === '*') ||
      // The green group's creation (request tags, by its generated name): test/infra/blue-green-iam.test.ts.
      c?.StringLike?.[`aws:RequestTag/${Tags.greenOf}`] === '*';
    const unconditioned = statements.filter(
      ({ statement }) =>
        statement.Effect === 'Allow' &&
        asArray<string>(statement.Action).some(
          (a) => a.startsWith('autoscaling:') && !a.startsWith('autoscaling:Describe'),
        ) &&
        !conditioned(statement.Condition as Record<string, Record<string, Json>> | undefined),
    );
    expect(unconditioned).toEqual([]);
  });

  it('lets no role pass a role by default (instanceRoles: none)', () => {
    const passing = statements.filter(
      ({ statement }) =>
        statement.Effect === 'Allow' && asArray<string>(statement.Action).includes('iam:PassRole'),
    );
    expect(passing).toEqual([]);
  });

  it('lets rollout-fleet pass only the instanceRoles listed, and only to EC2', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'WithInstanceRoles');
    const role = iam.Role.fromRoleArn(stack, 'WebRole', 'arn:aws:iam::123456789012:role/web-instance');
    const cp = new PhoenixControlPlane(stack, 'ControlPlane', { instanceRoles: [role] });
    const found = Template.fromStack(stack).toJSON().Resources as Record<
      string,
      { Type: string; Properties?: { PolicyDocument?: { Statement: Record<string, Json>[] } } }
    >;
    const passRole = Object.values(found)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => r.Properties?.PolicyDocument?.Statement ?? [])
      .filter((st) => asArray<string>(st.Action).includes('iam:PassRole'));
    expect(passRole).toStrictEqual([
      {
        Action: 'iam:PassRole',
        Effect: 'Allow',
        Resource: 'arn:aws:iam::123456789012:role/web-instance',
        Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      },
    ]);
    expect(cp.rolloutFleetFunction).toBeDefined();
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

  it('lets replace scale, terminate and update (a surge with no room raises the maximum) only in Auto Scaling groups tagged as managed', () => {
    const replace = phoenix.stack.controlPlane.replaceFunction;
    for (const action of [
      'autoscaling:SetDesiredCapacity',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
      'autoscaling:UpdateAutoScalingGroup',
    ]) {
      const found = granting(replace, action);
      expect(found, action).toHaveLength(1);
      expect(found[0]!.Condition, action).toStrictEqual({
        StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' },
      });
      expect(JSON.stringify(found[0]!.Resource)).toContain(':autoScalingGroup:*:autoScalingGroupName/*');
    }
    expect(granting(replace, 'ec2:RunInstances')).toEqual([]);
    expect(granting(replace, 'iam:PassRole')).toEqual([]);
  });

  it('lets replace write only the taint and drained tags, only on instances of fleets', () => {
    const found = granting(phoenix.stack.controlPlane.replaceFunction, 'ec2:CreateTags');
    expect(found).toHaveLength(2);
    for (const s of found) {
      expect(asArray(s.Action)).toStrictEqual(['ec2:CreateTags']);
      expect(JSON.stringify(s.Resource)).toMatch(/:ec2:.*:instance\/\*"/);
      expect(JSON.stringify(s.Resource)).toContain('AWS::AccountId');
    }
    expect(found.map((s) => s.Condition)).toStrictEqual(
      [
        { [`aws:ResourceTag/${Tags.fleet}`]: '*' },
        { 'aws:ResourceTag/aws:autoscaling:groupName': GREEN_GROUP_NAME_PATTERN },
      ].map((StringLike) => ({
        StringLike,
        'ForAllValues:StringEquals': { 'aws:TagKeys': [Tags.tainted, Tags.drained] },
        Null: { 'aws:TagKeys': 'false' },
      })),
    );
    // Nobody else tags instances, but at their launch (a template version's TagSpecifications);
    // images only with the quarantine key (test/infra/quarantine-iam.test.ts).
    const others = statements.filter(
      ({ statement }) =>
        statement.Effect === 'Allow' &&
        asArray<string>(statement.Action).includes('ec2:CreateTags') &&
        !found.includes(statement) &&
        !JSON.stringify(statement.Resource).includes(':image/*'),
    );
    expect(others.map(({ statement }) => statement.Condition)).toStrictEqual([
      { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
    ]);
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

  it('lets intake read (GetParameter only) channel parameters and AWS public parameters by default, and write none', () => {
    const intake = phoenix.stack.controlPlane.intakeFunction;
    const found = granting(intake, 'ssm:GetParameter');
    expect(found).toHaveLength(1);
    expect(asArray(found[0]!.Action)).toStrictEqual(['ssm:GetParameter']);
    const prefix = ['arn:', { Ref: 'AWS::Partition' }, ':ssm:', { Ref: 'AWS::Region' }];
    expect(asArray(found[0]!.Resource)).toStrictEqual([
      { 'Fn::Join': ['', [...prefix, ':', { Ref: 'AWS::AccountId' }, ':parameter/phoenix/channels/*']] },
      // AWS public parameters belong to no account.
      { 'Fn::Join': ['', [...prefix, '::parameter/aws/service/*']] },
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

  it('lets drain deregister from target groups tagged phoenix:fleet only, and only drain', () => {
    const cp = phoenix.stack.controlPlane;
    const found = granting(cp.drainFunction, 'elasticloadbalancing:DeregisterTargets');
    expect(found).toHaveLength(1);
    expect(asArray(found[0]!.Action)).toStrictEqual(['elasticloadbalancing:DeregisterTargets']);
    expect(JSON.stringify(found[0]!.Resource)).toMatch(/:elasticloadbalancing:.*:targetgroup\/\*"/);
    expect(JSON.stringify(found[0]!.Resource)).toContain('AWS::AccountId');
    expect(found[0]!.Condition).toStrictEqual({ StringLike: { [`aws:ResourceTag/${Tags.fleet}`]: '*' } });
    for (const fn of [cp.replaceFunction, cp.intakeFunction, cp.reconcileFunction, cp.rolloutFleetFunction]) {
      expect(granting(fn, 'elasticloadbalancing:DeregisterTargets')).toEqual([]);
    }
  });

  it('lets drain send commands only with flush documents of its account and region, to instances of fleets', () => {
    const cp = phoenix.stack.controlPlane;
    const found = granting(cp.drainFunction, 'ssm:SendCommand');
    expect(found).toHaveLength(3);
    const documents = found.filter((s) => JSON.stringify(s.Resource).includes(':document/'));
    expect(documents).toHaveLength(1);
    expect(documents[0]!.Condition).toBeUndefined();
    expect(JSON.stringify(documents[0]!.Resource)).toContain('AWS::AccountId');
    expect(JSON.stringify(documents[0]!.Resource)).toContain(':document/*flush*');
    const instances = found.filter((s) => JSON.stringify(s.Resource).includes(':instance/'));
    expect(instances.map((s) => s.Condition)).toStrictEqual([
      { StringLike: { [`ssm:resourceTag/${Tags.fleet}`]: '*' } },
      { StringLike: { 'ssm:resourceTag/aws:autoscaling:groupName': GREEN_GROUP_NAME_PATTERN } },
    ]);
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
