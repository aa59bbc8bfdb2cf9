/**
 * The local runtime's template resolver: names, ARNs, intrinsic functions, and a clear error for
 * what it cannot resolve.
 */
import { describe, expect, it } from 'vitest';
import {
  physicalName,
  resolveTemplate,
  TemplateShapeError,
  UnsupportedIntrinsicError,
  type CfnTemplate,
} from '../../local/template';
import { fixtureTemplate } from '../fixtures/local-runtime/template';

const options = { region: 'eu-west-1', endpoint: 'http://127.0.0.1:4566' };

describe('resolveTemplate', () => {
  const model = resolveTemplate(fixtureTemplate(), options);

  it('names resources phoenix-<logicalId>, keeps explicit names, and computes ARNs and URLs', () => {
    expect(model.eventBuses).toEqual([
      {
        logicalId: 'Bus',
        name: 'fixture-bus',
        arn: 'arn:aws:events:eu-west-1:123456789012:event-bus/fixture-bus',
      },
    ]);
    const echo = model.functions.find((f) => f.logicalId === 'EchoFunction')!;
    expect(echo).toMatchObject({
      name: 'phoenix-EchoFunction',
      arn: 'arn:aws:lambda:eu-west-1:123456789012:function:phoenix-EchoFunction',
      handler: 'echo',
      timeoutSeconds: 10,
      memorySize: 256,
      deadLetterArn: 'arn:aws:sqs:eu-west-1:123456789012:phoenix-EchoDlq',
      asyncInvoke: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21_600 },
    });
    expect(model.queues.find((q) => q.logicalId === 'EchoDlq')).toMatchObject({
      url: 'http://127.0.0.1:4566/123456789012/phoenix-EchoDlq',
      attributes: { MessageRetentionPeriod: '1209600' },
    });
    expect(model.stateMachines[0]).toMatchObject({
      name: 'phoenix-Machine',
      arn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:phoenix-Machine',
      roleArn: 'arn:aws:iam::123456789012:role/phoenix-MachineRole',
    });
    expect(JSON.parse(model.stateMachines[0]!.definitionString).States.Echo.Resource).toBe(echo.arn);
  });

  it('resolves rules: bus, pattern as JSON string, targets with kind, DLQ and retry policy', () => {
    const prefix = model.rules.find((r) => r.logicalId === 'PrefixRule')!;
    expect(prefix.eventBusName).toBe('fixture-bus');
    expect(prefix.arn).toBe('arn:aws:events:eu-west-1:123456789012:rule/fixture-bus/phoenix-PrefixRule');
    expect(JSON.parse(prefix.eventPattern!)).toMatchObject({
      detail: { name: [{ prefix: '/phoenix/channels/' }] },
    });
    expect(prefix.targets[0]).toMatchObject({
      id: 'Target0',
      kind: 'lambda',
      targetLogicalId: 'EchoFunction',
      deadLetterArn: 'arn:aws:sqs:eu-west-1:123456789012:phoenix-RuleDlq',
      retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 7200 },
    });
    expect(model.rules.find((r) => r.logicalId === 'FailRule')!.eventBusName).toBe('default');
    expect(model.rules.find((r) => r.logicalId === 'MachineRule')!.targets[0]!.kind).toBe('state-machine');
    expect(model.rules.find((r) => r.logicalId === 'DetailRule')!.targets[0]!.inputPath).toBe('$.detail');
  });

  it('evaluates Fn::Sub, Fn::Join, Fn::Select, Fn::Split and pseudo parameters', () => {
    expect(
      model.resolve({
        'Fn::Sub': 'arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${Bus}/${Bus.Arn}',
      }),
    ).toBe(
      'arn:aws:x:eu-west-1:123456789012:fixture-bus/arn:aws:events:eu-west-1:123456789012:event-bus/fixture-bus',
    );
    expect(model.resolve({ 'Fn::Sub': ['${A}-${!Literal}', { A: { Ref: 'Table' } }] })).toBe(
      'phoenix-Table-${Literal}',
    );
    expect(
      model.resolve({ 'Fn::Select': [1, { 'Fn::Split': ['/', { 'Fn::GetAtt': ['Bus', 'Arn'] }] }] }),
    ).toBe('fixture-bus');
    expect(model.resolve({ 'Fn::Join': ['.', ['a', { Ref: 'AWS::URLSuffix' }]] })).toBe('a.amazonaws.com');
    expect(model.resolve({ Ref: 'EchoDlq' })).toBe('http://127.0.0.1:4566/123456789012/phoenix-EchoDlq');
  });

  it('quotes what it cannot resolve', () => {
    expect(() => model.resolve({ 'Fn::ImportValue': 'Other:Export' })).toThrow(UnsupportedIntrinsicError);
    expect(() => model.resolve({ 'Fn::ImportValue': 'Other:Export' })).toThrow(
      '{"Fn::ImportValue":"Other:Export"}',
    );
    expect(() => model.resolve({ 'Fn::GetAtt': ['Table', 'StreamArn'] })).toThrow(
      /Fn::GetAtt.*Table.*StreamArn/,
    );
    expect(() => model.resolve({ Ref: 'Nowhere' })).toThrow(TemplateShapeError);
  });

  it('refuses a function without phoenix:handler metadata', () => {
    const template = fixtureTemplate();
    const broken: CfnTemplate = {
      ...template,
      Resources: { ...template.Resources, Stray: { Type: 'AWS::Lambda::Function', Properties: {} } },
    };
    expect(() => resolveTemplate(broken, options)).toThrow(/Stray.*phoenix:handler/);
  });

  it('shortens long names deterministically within the service limit', () => {
    const long = `Control${'Plane'.repeat(20)}Function1234ABCD`;
    const name = physicalName(long, 64);
    expect(name).toHaveLength(64);
    expect(name).toBe(physicalName(long, 64));
    expect(name).not.toBe(physicalName(`${long}X`, 64));
    expect(physicalName('Short', 64)).toBe('phoenix-Short');
  });
});
