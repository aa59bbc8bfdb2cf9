import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { App, Stack, Token } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhoenixControlPlane, toCdkEventPattern } from '../../lib';
import { EVENT_SOURCES } from '../../lambdas/domain/sources';
import { DEFAULT_MAX_CONCURRENT_ROLLOUTS } from '../../lambdas/domain/fleet-record';
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

beforeAll(() => {
  phoenix = synthPhoenix({ bundle: true });
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

/** The handlers of the default stack: `validate` only with a channel's validation (test/infra/validation-iam.test.ts). */
const DEFAULT_HANDLERS = Object.values(Handlers);

describe('synthesis', () => {
  it('bundles each handler locally into one self-contained file, SDK included', () => {
    // Speed is the benchmark's business (`npm run bench`); this asserts local, self-contained bundles.
    const assembly = phoenix.app.synth();
    for (const name of DEFAULT_HANDLERS) {
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
  const cp = () => phoenix.stack.controlPlane;
  const ruleProps = (ruleId: string) => {
    const rule = cp().rules[ruleId];
    expect(rule, `rule ${ruleId}`).toBeDefined();
    return phoenix.resources[phoenix.logicalId(rule!)]!.Properties!;
  };

  it('creates exactly one rule per entry of the event-source catalog, with the entry as construct id', () => {
    expect(Object.keys(cp().rules).sort()).toEqual(EVENT_SOURCES.map((s) => s.ruleId).sort());
    for (const [ruleId, rule] of Object.entries(cp().rules)) expect(rule.node.id).toBe(ruleId);
    // … and the schedules of the reconcile sweep (test/infra/reconcile.test.ts) and chaos mode
    // (test/infra/chaos.test.ts), and the outcome archive's rule (test/infra/outcome-archive.test.ts).
    expect(Object.keys(phoenix.template.findResources('AWS::Events::Rule'))).toHaveLength(
      EVENT_SOURCES.length + 3,
    );
  });

  it.each(EVENT_SOURCES.map((s) => ({ ...s })))(
    '$ruleId matches exactly its catalog pattern on the $bus bus',
    ({ ruleId, bus, pattern, description }) => {
      const props = ruleProps(ruleId);
      expect(props.EventPattern).toStrictEqual(pattern);
      expect(props.Description).toBe(description);
      expect(props.State).toBe('ENABLED');
      if (bus === 'default') {
        expect(props.EventBusName).toBeUndefined();
      } else {
        expect(props.EventBusName).toStrictEqual({ Ref: phoenix.logicalId(cp().eventBus) });
      }
    },
  );

  it.each(EVENT_SOURCES.map((s) => ({ ...s })))(
    '$ruleId targets intake with its own dead-letter queue and retry policy',
    ({ ruleId }) => {
      const props = ruleProps(ruleId);
      expect(props.Targets).toHaveLength(1);
      const target = props.Targets[0];
      expect(target.Arn).toStrictEqual({ 'Fn::GetAtt': [functionId(Handlers.intake), 'Arn'] });
      expect(target.RetryPolicy).toStrictEqual({ MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 });
      const queueId = target.DeadLetterConfig?.Arn?.['Fn::GetAtt']?.[0] as string;
      expect(phoenix.resources[queueId]?.Type).toBe('AWS::SQS::Queue');
      // Not shared with another rule.
      const others = EVENT_SOURCES.filter((s) => s.ruleId !== ruleId).map(
        (s): unknown => ruleProps(s.ruleId).Targets[0].DeadLetterConfig.Arn,
      );
      expect(others).not.toContainEqual(target.DeadLetterConfig.Arn);
    },
  );

  it('keeps the named rules of the public API on the catalog entries (and their construct ids)', () => {
    expect(cp().amiAvailableRule).toBe(cp().rules.AmiAvailableRule);
    expect(cp().channelParameterRule).toBe(cp().rules.ChannelParameterRule);
    expect(cp().publishImageRule).toBe(cp().rules.PublishImageRule);
    expect(ruleProps('AmiAvailableRule').EventPattern).toStrictEqual({
      source: ['aws.ec2'],
      'detail-type': ['EC2 AMI State Change'],
      detail: { State: ['available'] },
    });
    expect(ruleProps('ChannelParameterRule').EventPattern).toMatchObject({
      source: ['aws.ssm'],
      detail: { name: [{ prefix: CHANNEL_PARAMETER_PREFIX }] },
    });
    expect(ruleProps('PublishImageRule').EventPattern).toStrictEqual({
      source: [COMMAND_SOURCE],
      'detail-type': [DetailTypes.PublishImage],
    });
  });

  it('converts every top-level field of the JSON form, and refuses one CDK cannot express', () => {
    expect(
      toCdkEventPattern({
        version: ['0'],
        id: ['x'],
        'detail-type': ['T'],
        source: ['s'],
        account: ['1'],
        time: [{ prefix: '2024' }],
        region: ['r'],
        resources: [{ prefix: 'arn:' }],
        detail: { a: [{ 'anything-but': 'b' }] },
      }),
    ).toStrictEqual({
      version: ['0'],
      id: ['x'],
      detailType: ['T'],
      source: ['s'],
      account: ['1'],
      time: [{ prefix: '2024' }],
      region: ['r'],
      resources: [{ prefix: 'arn:' }],
      detail: { a: [{ 'anything-but': 'b' }] },
    });
    expect(() => toCdkEventPattern({ detailType: ['T'] }, 'SomeRule')).toThrow(
      /^SomeRule: top-level field "detailType"/,
    );
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
  it.each(DEFAULT_HANDLERS)(
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

  it('sets the same table and bus on every function, and the state machines on intake', () => {
    const cp = phoenix.stack.controlPlane;
    const common = {
      POWERTOOLS_SERVICE_NAME: 'phoenix',
      POWERTOOLS_METRICS_NAMESPACE: 'Phoenix',
      [Env.tableName]: { Ref: phoenix.logicalId(cp.table) },
      [Env.eventBusName]: { Ref: phoenix.logicalId(cp.eventBus) },
    };
    const variables = (name: HandlerName) =>
      phoenix.resources[functionId(name)]!.Properties!.Environment.Variables as Record<string, unknown>;
    const roleRef = (fn: { role?: unknown }) => ({ Ref: phoenix.logicalId(fn.role as never) });
    expect(variables(Handlers.intake)).toStrictEqual({
      ...common,
      [Env.rolloutStateMachineArn]: { Ref: phoenix.logicalId(cp.rolloutWorkflow.stateMachine) },
      [Env.replaceStateMachineArn]: { Ref: phoenix.logicalId(cp.replaceWorkflow.stateMachine) },
      [Env.drainStateMachineArn]: { Ref: phoenix.logicalId(cp.drainWorkflow.stateMachine) },
      [Env.healthAlarmPrefixes]: 'phoenix-health-',
      // Phoenix's own roles: their CloudTrail calls are never drift.
      [Env.ownRoleNames]: {
        'Fn::Join': [
          ',',
          [
            roleRef(cp.intakeFunction),
            roleRef(cp.rolloutFleetFunction),
            roleRef(cp.rolloutRecordFunction),
            roleRef(cp.replaceFunction),
            roleRef(cp.chaosFunction),
            roleRef(cp.drainFunction),
            roleRef(cp.rolloutWorkflow.stateMachine),
            roleRef(cp.replaceWorkflow.stateMachine),
            roleRef(cp.drainWorkflow.stateMachine),
          ],
        ],
      },
    });
    // The image owners a rollout accepts: by default this account's images and Amazon's.
    expect(variables(Handlers.rolloutFleet)).toStrictEqual({
      ...common,
      [Env.allowedImageOwners]: { 'Fn::Join': [',', [{ Ref: 'AWS::AccountId' }, 'amazon']] },
    });
    // The fan-out limit (prop maxConcurrentRollouts, default 20) is enforced where the lock is taken.
    expect(variables(Handlers.rolloutRecord)).toStrictEqual({
      ...common,
      [Env.maxConcurrentRollouts]: String(DEFAULT_MAX_CONCURRENT_ROLLOUTS),
    });
    expect(variables(Handlers.replace)).toStrictEqual(common);
    expect(variables(Handlers.drain)).toStrictEqual(common);
  });
});

describe('table and bus', () => {
  it('keeps fleet records in an on-demand, recoverable, encrypted table keyed by pk only, retained, with a TTL', () => {
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
      // Intake's idempotency records (EVENT#<event id>) expire by themselves.
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
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

  it('fails on a health alarm prefix that is empty or holds a comma, quoting it', () => {
    const build = (healthAlarmPrefixes: string[]) => () =>
      new PhoenixControlPlane(new Stack(new App(), 'Invalid'), 'ControlPlane', { healthAlarmPrefixes });
    expect(build(['ops-', ' '])).toThrow(/healthAlarmPrefixes .*\[" "\]/);
    expect(build(['a,b'])).toThrow(/"a,b"/);
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
