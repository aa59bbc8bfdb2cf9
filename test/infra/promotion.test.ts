/**
 * The promotion capability in the synthesized template: created only when some channel has
 * `promoteFrom`, its rules in the function's environment, its schedule, least privilege (proven by
 * IAM simulation: PutParameter only on the downstream channels' parameters), cdk-nag clean, and the
 * validation of the channels' promotion fields.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { addCompliance, PhoenixControlPlane } from '../../lib';
import { synthesizeControlPlane } from '../../local/template';
import { ACCOUNT, extractPolicies, REGION, simulate } from '../support/iam-policies';

const channels = {
  staging: {},
  prod: {
    promoteFrom: 'staging',
    after: Duration.hours(2),
    approval: true,
    window: { days: ['Mon', 'Tue'] as ('Mon' | 'Tue')[], fromHour: 9, toHour: 16 },
  },
};
const synth = (controlPlane: Record<string, unknown>) =>
  synthesizeControlPlane({ stackProps: { controlPlane } }).template;
const promoteFunctions = (template: ReturnType<typeof synth>) =>
  Object.entries(template.Resources).filter(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['phoenix:handler'] === 'promote',
  );
const noBundling = () => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
const parameter = (name: string) => `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/${name.replace(/^\//, '')}`;

describe('PromotionCapability', () => {
  it('is not created without a channel with promoteFrom', () => {
    expect(promoteFunctions(synth({}))).toHaveLength(0);
    expect(promoteFunctions(synth({ channels: { staging: {} } }))).toHaveLength(0);
  });

  const template = synth({ channels });
  it('creates the promote function with its rules and a 5-minute schedule', () => {
    const [[, fn]] = promoteFunctions(template) as unknown as [[string, { Properties: Record<string, any> }]];
    const rules = JSON.parse(fn.Properties['Environment'].Variables['PHOENIX_PROMOTION_RULES']);
    expect(rules).toEqual([
      {
        channel: 'prod',
        promoteFrom: 'staging',
        afterSeconds: 7200,
        approval: true,
        window: { days: ['Mon', 'Tue'], fromHour: 9, toHour: 16 },
        maxHealthReplacements: 0,
      },
    ]);
    expect(fn.Properties['ReservedConcurrentExecutions']).toBe(1);
    const schedules = Object.entries(template.Resources).filter(
      ([id, r]) => r.Type === 'AWS::Events::Rule' && id.startsWith('ControlPlanePromoteRule'),
    );
    expect(schedules.map(([, r]) => r.Properties?.['ScheduleExpression'])).toEqual(['rate(5 minutes)']);
  });

  it('may publish only to the downstream channel parameter (IAM simulation)', async () => {
    const role = extractPolicies(template).roleOfHandler('promote');
    const principal = { arn: role.arn, policies: role.policies };
    const put = (name: string) =>
      simulate(principal, { action: 'ssm:PutParameter', resource: parameter(name) });
    expect(await put('/phoenix/channels/prod')).toBe('Allowed');
    expect(await put('/phoenix/channels/staging')).not.toBe('Allowed');
    expect(await put('/phoenix/channels/other')).not.toBe('Allowed');
    expect(await put('/corp/secret')).not.toBe('Allowed');
    const get = (name: string) =>
      simulate(principal, { action: 'ssm:GetParameters', resource: parameter(name) });
    expect(await get('/phoenix/channels/staging')).toBe('Allowed');
    expect(await get('/corp/secret')).not.toBe('Allowed');
    const tableArn = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/`;
    const tables = extractPolicies(template)
      .roleOfHandler('promote')
      .policies.flatMap((p) => p.policy.Statement)
      .flatMap((s) => [s['Resource']].flat() as string[])
      .filter((r) => typeof r === 'string' && r.startsWith(tableArn));
    expect(tables.length).toBeGreaterThan(0);
    const item = (pk: string, action: string) =>
      simulate(principal, {
        action,
        resource: tables[0]!,
        context: { 'dynamodb:LeadingKeys': [pk] },
      });
    expect(await item('CHANNEL#prod', 'dynamodb:UpdateItem')).toBe('Allowed');
    expect(await item('FLEET#web', 'dynamodb:UpdateItem')).not.toBe('Allowed');
    expect(await item('FLEET#web', 'dynamodb:BatchGetItem')).toBe('Allowed');
    expect(await item('EVENT#x', 'dynamodb:GetItem')).not.toBe('Allowed');
  });

  it('is cdk-nag clean (AwsSolutions)', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    addCompliance(app);
    const stack = new Stack(app, 'S');
    new PhoenixControlPlane(stack, 'P', { channels });
    expect(() => app.synth()).not.toThrow();
  });
});

describe('validation of the channels promotion fields', () => {
  const build = (c: Record<string, unknown>) => () =>
    new PhoenixControlPlane(noBundling(), 'P', { channels: c as never });
  it.each([
    [{ prod: { promoteFrom: 'prod' } }, /channels\.prod\.promoteFrom must name another channel/],
    [{ prod: { promoteFrom: 'bad name' } }, /channels\.prod\.promoteFrom must be a channel name/],
    [{ a: { promoteFrom: 'b' }, b: { promoteFrom: 'a' } }, /promoteFrom makes a cycle a -> b -> a/],
    [{ prod: { approval: true } }, /channels\.prod\.approval needs promoteFrom/],
    [{ prod: { promoteFrom: 's', approval: 'yes' } }, /approval must be true or false/],
    [
      { prod: { promoteFrom: 's', maxHealthReplacements: 1.5 } },
      /maxHealthReplacements must be a whole number/,
    ],
    [{ prod: { promoteFrom: 's', window: { fromHour: 16, toHour: 9 } } }, /window needs whole hours/],
    [
      { prod: { promoteFrom: 's', window: { days: ['Mo'], fromHour: 9, toHour: 16 } } },
      /window\.days must be of/,
    ],
  ])('%j', (c, message) => {
    expect(build(c)).toThrow(message);
  });
  it('accepts a chain dev -> staging -> prod', () => {
    expect(
      build({
        staging: { promoteFrom: 'dev' },
        prod: { promoteFrom: 'staging', after: Duration.minutes(0) },
      }),
    ).not.toThrow();
  });
});
