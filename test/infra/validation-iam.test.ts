/**
 * Post-creation image validation (issue 13 §2): the Validate workflow is composed only when a
 * channel has `validation`, and the validate role is least privilege, by simulation of the
 * synthesized policies: the validation group by name, its launch template by the tag
 * `phoenix:validation`, the named test document and function only, the quarantine tag only.
 */
import { App, Duration } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addCompliance } from '../../lib';
import type { PhoenixControlPlaneProps } from '../../lib/control-plane-props';
import { PhoenixStack } from '../../lib/phoenix-stack';
import { afterAll, describe, expect, it } from 'vitest';
import { Env, Tags } from '../../lambdas/domain/contract';
import { synthesizeControlPlane } from '../../local/template/synth';
import { renderDefinition, unsupportedLocally } from './asl';
import { ACCOUNT, extractPolicies, type IamRequest, REGION, simulate } from '../support/iam-policies';

const VALIDATION_PROPS: PhoenixControlPlaneProps = {
  channels: {
    staging: {
      validation: {
        group: 'web-validation',
        testDocument: 'web-smoke',
        testFunction: 'web-test',
        timeout: Duration.minutes(20),
      },
    },
  },
};
const { template } = synthesizeControlPlane({ stackProps: { controlPlane: VALIDATION_PROPS } });
const policies = extractPolicies(template);
const validate = policies.roleOfHandler('validate');
const group = (name: string) =>
  `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:11111111-2222-3333-4444-555555555555:autoScalingGroupName/${name}`;
const template_ = `arn:aws:ec2:${REGION}:${ACCOUNT}:launch-template/lt-0123456789abcdef0`;
const instance = `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0123456789abcdef0`;
const image = `arn:aws:ec2:${REGION}::image/ami-0123456789abcdef0`;
const doc = (name: string) => `arn:aws:ssm:${REGION}:${ACCOUNT}:document/${name}`;
const fn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
const quarantineTag = (resource: string, key: string = Tags.quarantined): IamRequest => ({
  action: 'ec2:CreateTags',
  resource,
  context: { [`aws:RequestTag/${key}`]: 'validation', 'aws:TagKeys': [key] },
});

afterAll(() => undefined);

describe('cdk-nag AwsSolutions with validation', () => {
  it('reports no unacknowledged finding on the validation resources', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new PhoenixStack(app, 'Phoenix', { controlPlane: VALIDATION_PROPS });
    addCompliance(app);
    const open = new AwsSolutionsChecks()
      .validateScope(stack)
      .violations.map(
        (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      );
    expect(open).toEqual([]);
  });
});

describe('Validate workflow: composed only with validation', () => {
  it('adds one Standard state machine and the intake wiring', () => {
    const machines = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::StepFunctions::StateMachine',
    );
    expect(machines).toHaveLength(4);
    const intake = Object.values(template.Resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        JSON.stringify(r.Properties?.Environment ?? {}).includes(Env.validationChannels),
    );
    const env = (intake?.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(JSON.parse(env[Env.validationChannels] as string)).toEqual({
      staging: {
        group: 'web-validation',
        testDocument: 'web-smoke',
        testFunction: 'web-test',
        timeoutSeconds: 1200,
      },
    });
    expect(env[Env.validateStateMachineArn]).toBeDefined();
  });

  it('is JSONPath with Lambda tasks only, cleans up on every failure, and fails only when cleanup or report fail', () => {
    const [machine] = Object.values(template.Resources).filter(
      (r) =>
        r.Type === 'AWS::StepFunctions::StateMachine' &&
        JSON.stringify(r.Properties?.DefinitionString ?? '').includes('PrepareValidation'),
    );
    const definition = renderDefinition(
      machine!.Properties!.DefinitionString,
      template.Resources as never,
    ) as {
      States: Record<string, { Type: string; Resource?: string; Next?: string; Catch?: { Next: string }[] }>;
    };
    expect(unsupportedLocally(definition)).toEqual([]);
    const states = definition.States;
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task')
        expect(state.Resource, name).toMatch(/^arn:aws:lambda:[^:]+:[^:]+:function:/);
    }
    for (const step of [
      'PrepareValidation',
      'CheckValidationInstance',
      'StartValidationTest',
      'CheckValidationTest',
    ]) {
      const failed = states[step]!.Catch!.map((c) => c.Next);
      expect(failed, step).toEqual([`${step}Failed`]);
      expect(states[`${step}Failed`]!.Next).toBe('CleanUpValidation');
    }
    expect(
      Object.entries(states)
        .filter(([, s]) => s.Type === 'Fail')
        .map(([n]) => n)
        .sort(),
    ).toEqual(['ValidationCleanupFailed', 'ValidationReportFailed']);
    expect(states.ImageValidationFailed?.Type).toBe('Succeed');
  });

  it('is absent by default', () => {
    const plain = synthesizeControlPlane().template;
    const machines = Object.values(plain.Resources).filter(
      (r) => r.Type === 'AWS::StepFunctions::StateMachine',
    );
    expect(machines).toHaveLength(3);
  });
});

describe('IAM simulation: validate role', () => {
  it.each<[string, IamRequest]>([
    [
      'scale the validation group',
      { action: 'autoscaling:SetDesiredCapacity', resource: group('web-validation') },
    ],
    [
      'update the validation group',
      { action: 'autoscaling:UpdateAutoScalingGroup', resource: group('web-validation') },
    ],
    [
      'version a template tagged phoenix:validation',
      {
        action: 'ec2:CreateLaunchTemplateVersion',
        resource: template_,
        context: { [`aws:ResourceTag/${Tags.validation}`]: 'web-validation' },
      },
    ],
    ['send the named test document', { action: 'ssm:SendCommand', resource: doc('web-smoke') }],
    [
      'send it to an instance of the validation group',
      {
        action: 'ssm:SendCommand',
        resource: instance,
        context: { 'ssm:resourceTag/aws:autoscaling:groupName': 'web-validation' },
      },
    ],
    ['invoke the named test function', { action: 'lambda:InvokeFunction', resource: fn('web-test') }],
    ['tag the image quarantined', quarantineTag(image)],
  ])('must allow: %s', async (_name, request) => {
    expect(await simulate(validate, request)).toBe('Allowed');
  });

  it.each<[string, IamRequest]>([
    [
      'scale another group (a fleet)',
      { action: 'autoscaling:SetDesiredCapacity', resource: group('web-prod') },
    ],
    ['version an untagged template', { action: 'ec2:CreateLaunchTemplateVersion', resource: template_ }],
    ['send another document', { action: 'ssm:SendCommand', resource: doc('AWS-RunShellScript') }],
    [
      'send to an instance of another group',
      {
        action: 'ssm:SendCommand',
        resource: instance,
        context: { 'ssm:resourceTag/aws:autoscaling:groupName': 'web-prod' },
      },
    ],
    ['invoke another function', { action: 'lambda:InvokeFunction', resource: fn('other') }],
    ['tag an image with another key (phoenix:channel)', quarantineTag(image, Tags.channel)],
    ['terminate an instance', { action: 'ec2:TerminateInstances', resource: instance }],
  ])('must deny: %s', async (_name, request) => {
    expect(await simulate(validate, request)).not.toBe('Allowed');
  });

  it('must deny: no Phoenix role but rollout-fleet and validate may quarantine an image', async () => {
    const others = policies.roles.filter((r) => r.handler !== 'rollout-fleet' && r.handler !== 'validate');
    expect(others.length).toBeGreaterThan(0);
    for (const role of others) {
      expect(await simulate(role, quarantineTag(image)), role.id).not.toBe('Allowed');
    }
  });
});
