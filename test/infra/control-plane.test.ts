import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { App, Stack, Token } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhoenixControlPlane } from '../../lib';
import {
  CHANNEL_PARAMETER_PREFIX,
  COMMAND_SOURCE,
  DetailTypes,
  Env,
  HANDLER_METADATA_KEY,
  Handlers,
  type HandlerName,
} from '../../lambdas/domain/contract';
import { synthPhoenix, type SynthesizedPhoenix } from './support';

/**
 * Requires a bundle may leave unresolved: optional SDK peers that the SDK loads inside try/catch
 * (the CRT signer is only for SigV4a, which Phoenix does not use).
 */
const OPTIONAL_REQUIRES = ['@aws-sdk/signature-v4-crt'];

let phoenix: SynthesizedPhoenix;
let synthMs: number;

beforeAll(() => {
  const started = performance.now();
  phoenix = synthPhoenix({ bundle: true });
  synthMs = performance.now() - started;
});
afterAll(() => phoenix.dispose());

/** The logical id of the function bound to a handler, found through its `phoenix:handler` metadata. */
function functionId(name: HandlerName): string {
  const found = phoenix.template.findResources('AWS::Lambda::Function', {
    Metadata: { [HANDLER_METADATA_KEY]: name },
  });
  const ids = Object.keys(found);
  expect(ids, `functions with ${HANDLER_METADATA_KEY}=${name}`).toHaveLength(1);
  return ids[0]!;
}

describe('synthesis', () => {
  it('bundles each handler locally into one self-contained file, SDK included', () => {
    // Not a benchmark: a guard against bundling falling back to Docker.
    expect(synthMs).toBeLessThan(60_000);
    const assembly = phoenix.app.synth();
    for (const name of Object.values(Handlers)) {
      const key = phoenix.resources[functionId(name)]!.Properties!.Code.S3Key as string;
      const bundle = path.join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`, 'index.js');
      expect(fs.existsSync(bundle), bundle).toBe(true);
      const required = [...fs.readFileSync(bundle, 'utf8').matchAll(/require\("([^"]+)"\)/g)].map(
        (m) => m[1]!,
      );
      const external = required.filter(
        (id) => !id.startsWith('node:') && !builtinModules.includes(id) && !OPTIONAL_REQUIRES.includes(id),
      );
      expect(external, `modules ${name} would load from outside its bundle`).toEqual([]);
    }
  });
});

describe('event rules', () => {
  const cases = [
    {
      rule: 'amiAvailableRule',
      bus: 'default',
      pattern: {
        source: ['aws.ec2'],
        'detail-type': ['EC2 AMI State Change'],
        detail: { State: ['available'] },
      },
    },
    {
      rule: 'channelParameterRule',
      bus: 'default',
      pattern: {
        source: ['aws.ssm'],
        'detail-type': ['Parameter Store Change'],
        detail: { name: [{ prefix: CHANNEL_PARAMETER_PREFIX }], operation: ['Create', 'Update'] },
      },
    },
    {
      rule: 'publishImageRule',
      bus: 'phoenix',
      pattern: { source: [COMMAND_SOURCE], 'detail-type': [DetailTypes.PublishImage] },
    },
  ] as const;

  it.each(cases)('$rule matches exactly its pattern on the $bus bus', ({ rule, bus, pattern }) => {
    const cp = phoenix.stack.controlPlane;
    const props = phoenix.resources[phoenix.logicalId(cp[rule])]!.Properties!;
    expect(props.EventPattern).toStrictEqual(pattern);
    if (bus === 'default') {
      expect(props.EventBusName).toBeUndefined();
    } else {
      expect(props.EventBusName).toStrictEqual({ Ref: phoenix.logicalId(cp.eventBus) });
    }
  });

  it.each(cases)('$rule targets intake with its own dead-letter queue and retry policy', ({ rule }) => {
    const cp = phoenix.stack.controlPlane;
    const props = phoenix.resources[phoenix.logicalId(cp[rule])]!.Properties!;
    expect(props.Targets).toHaveLength(1);
    const target = props.Targets[0];
    expect(target.Arn).toStrictEqual({ 'Fn::GetAtt': [functionId(Handlers.intake), 'Arn'] });
    expect(target.RetryPolicy).toStrictEqual({ MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 });
    const queueId = target.DeadLetterConfig?.Arn?.['Fn::GetAtt']?.[0] as string;
    expect(phoenix.resources[queueId]?.Type).toBe('AWS::SQS::Queue');
    // Not shared with another rule.
    const others = cases
      .filter((c) => c.rule !== rule)
      .map(
        (c): unknown =>
          phoenix.resources[phoenix.logicalId(cp[c.rule])]!.Properties!.Targets[0].DeadLetterConfig.Arn,
      );
    expect(others).not.toContainEqual(target.DeadLetterConfig.Arn);
  });

  it('patterns stay flat: no matching into arrays of objects (the emulator never matches those)', () => {
    const rules = phoenix.template.findResources('AWS::Events::Rule');
    for (const [id, rule] of Object.entries(rules)) {
      const walk = (value: unknown, where: string): void => {
        if (Array.isArray(value)) {
          for (const item of value) {
            if (typeof item === 'object' && item !== null) {
              // Only content filters ({prefix}, {anything-but}, …) may sit in an array.
              expect(Object.keys(item as object), `${id} ${where}`).toEqual(
                expect.arrayContaining([
                  expect.stringMatching(
                    /^(prefix|suffix|anything-but|numeric|exists|equals-ignore-case|wildcard|cidr)$/,
                  ),
                ]),
              );
            }
          }
        } else if (typeof value === 'object' && value !== null) {
          for (const [k, v] of Object.entries(value)) walk(v, `${where}.${k}`);
        }
      };
      walk((rule as { Properties: { EventPattern: unknown } }).Properties.EventPattern, 'EventPattern');
    }
  });
});

describe('dead-letter queues', () => {
  it('every queue of the stack is encrypted, TLS-only and watched by an alarm', () => {
    const queues = phoenix.template.findResources('AWS::SQS::Queue');
    expect(Object.keys(queues)).not.toHaveLength(0);
    for (const [id, queue] of Object.entries(queues)) {
      expect(queue.Properties.SqsManagedSseEnabled, id).toBe(true);
      phoenix.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
      phoenix.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id, 'QueueName'] } }],
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        EvaluationPeriods: 1,
        Period: 300,
      });
    }
  });
});

describe('functions', () => {
  it.each(Object.values(Handlers))(
    '%s runs on Node.js 24 / arm64, traced, with a DLQ and its handler metadata',
    (name) => {
      const fn = phoenix.resources[functionId(name)]!;
      expect(fn.Metadata![HANDLER_METADATA_KEY]).toBe(name);
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        MemorySize: 256,
        Timeout: 60,
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
      });
      const queueId = fn.Properties!.DeadLetterConfig?.TargetArn?.['Fn::GetAtt']?.[0] as string;
      expect(phoenix.resources[queueId]?.Type).toBe('AWS::SQS::Queue');
      phoenix.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: functionId(name) },
        MaximumRetryAttempts: 2,
      });
      // Its own log group, kept a year and retained.
      const logGroupId = fn.Properties!.LoggingConfig?.LogGroup?.Ref as string;
      expect(phoenix.resources[logGroupId]).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: 365 },
        DeletionPolicy: 'Retain',
      });
    },
  );

  it('sets the same table and bus on every function, and the rollout state machine on intake', () => {
    const cp = phoenix.stack.controlPlane;
    const common = {
      POWERTOOLS_SERVICE_NAME: 'phoenix',
      POWERTOOLS_METRICS_NAMESPACE: 'Phoenix',
      [Env.tableName]: { Ref: phoenix.logicalId(cp.table) },
      [Env.eventBusName]: { Ref: phoenix.logicalId(cp.eventBus) },
    };
    const variables = (name: HandlerName) =>
      phoenix.resources[functionId(name)]!.Properties!.Environment.Variables as Record<string, unknown>;
    expect(variables(Handlers.intake)).toStrictEqual({
      ...common,
      [Env.rolloutStateMachineArn]: { Ref: phoenix.logicalId(cp.rolloutWorkflow.stateMachine) },
    });
    expect(variables(Handlers.rolloutFleet)).toStrictEqual(common);
    expect(variables(Handlers.rolloutRecord)).toStrictEqual(common);
  });
});

describe('table and bus', () => {
  it('keeps fleet records in an on-demand, recoverable, encrypted table keyed by pk only, retained', () => {
    const table = phoenix.resources[phoenix.logicalId(phoenix.stack.controlPlane.table)]!;
    expect(table).toMatchObject({
      Type: 'AWS::DynamoDB::Table',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    expect(table.Properties).toStrictEqual({
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it("names the bus 'phoenix' by default and exports bus, table and state machine", () => {
    phoenix.template.hasResourceProperties('AWS::Events::EventBus', { Name: 'phoenix' });
    const outputs = phoenix.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const cp = phoenix.stack.controlPlane;
    expect(outputs.EventBusName?.Value).toStrictEqual({ Ref: phoenix.logicalId(cp.eventBus) });
    expect(outputs.TableName?.Value).toStrictEqual({ Ref: phoenix.logicalId(cp.table) });
    expect(outputs.RolloutStateMachineArn?.Value).toStrictEqual({
      Ref: phoenix.logicalId(cp.rolloutWorkflow.stateMachine),
    });
  });
});

describe('PhoenixControlPlane props', () => {
  it.each([
    ['default', /"default"/],
    ['ops/phoenix', /"ops\/phoenix"/],
    ['phoenix bus', /"phoenix bus"/],
  ])('fails on eventBusName %j, quoting it', (eventBusName, quoted) => {
    const build = () =>
      new PhoenixControlPlane(new Stack(new App(), 'Invalid'), 'ControlPlane', { eventBusName });
    expect(build).toThrow(/^Invalid PhoenixControlPlane props: eventBusName/);
    expect(build).toThrow(quoted);
  });

  it('does not validate an unresolved eventBusName', () => {
    // No bundling: this test is about the props check only.
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Tokens');
    const name = Token.asString({ Ref: 'BusNameParameter' });
    // Fails later (no such parameter) or not at all, but never on the name check.
    expect(() => new PhoenixControlPlane(stack, 'ControlPlane', { eventBusName: name })).not.toThrow(
      /eventBusName/,
    );
  });
});
