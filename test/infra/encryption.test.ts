/**
 * The optional customer-managed key (`encryptionKey`): given, it encrypts the table, every queue,
 * every log group and every function's environment, and each principal that writes those
 * resources may use it; not given, the template has no key and keeps its AWS-owned and AWS
 * managed encryption.
 */
import { App, type CfnResource, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhoenixControlPlane } from '../../lib';
import { type CfnResourceJson, synthPhoenix, type SynthesizedPhoenix } from './support';

function keyed(): { stack: Stack; key: kms.Key; cp: PhoenixControlPlane; template: Template } {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Keyed');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const cp = new PhoenixControlPlane(stack, 'ControlPlane', { encryptionKey: key });
  return { stack, key, cp, template: Template.fromStack(stack) };
}

function ofType(template: Template, type: string): [string, CfnResourceJson][] {
  return Object.entries(template.findResources(type)) as [string, CfnResourceJson][];
}

describe('encryptionKey given', () => {
  const { stack, key, cp, template } = keyed();
  const keyArn = stack.resolve(key.keyArn) as unknown;

  it('encrypts the fleet table with the key', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
    });
  });

  it('encrypts every queue with the key: the rules’ and the functions’ dead-letter queues', () => {
    const queues = ofType(template, 'AWS::SQS::Queue');
    expect(queues.length).toBe(cp.deadLetterQueues.length);
    for (const [id, queue] of queues) {
      expect(queue.Properties?.KmsMasterKeyId, id).toStrictEqual(keyArn);
      expect(queue.Properties?.SqsManagedSseEnabled, id).toBeUndefined();
    }
  });

  it('encrypts every log group with the key: the functions’, the workflows’ and the outcome archive’s', () => {
    const groups = ofType(template, 'AWS::Logs::LogGroup');
    const workflows = [cp.rolloutWorkflow, cp.replaceWorkflow, cp.drainWorkflow];
    const functions = [
      cp.intakeFunction,
      cp.rolloutFleetFunction,
      cp.rolloutRecordFunction,
      cp.replaceFunction,
      cp.drainFunction,
      cp.reconcileFunction,
      cp.chaosFunction,
    ];
    const expected = [
      ...functions.map((f) => f.functionLogGroup),
      ...workflows.map((w) => w.logGroup),
      cp.outcomeArchive.logGroup,
    ];
    expect(groups.map(([id]) => id).sort()).toStrictEqual(
      expected.map((g) => stack.resolve((g.node.defaultChild as CfnResource).logicalId) as string).sort(),
    );
    for (const [id, group] of groups) expect(group.Properties?.KmsKeyId, id).toStrictEqual(keyArn);
  });

  it('encrypts every function’s environment with the key', () => {
    for (const [id, fn] of ofType(template, 'AWS::Lambda::Function')) {
      expect(fn.Properties?.KmsKeyArn, id).toStrictEqual(keyArn);
    }
  });

  it('admits CloudWatch Logs to the key for this account’s log groups only', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
            Action: Match.arrayWith(['kms:Encrypt*', 'kms:Decrypt*', 'kms:GenerateDataKey*']),
            Condition: {
              ArnLike: {
                'kms:EncryptionContext:aws:logs:arn': {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':logs:',
                      { Ref: 'AWS::Region' },
                      ':',
                      { Ref: 'AWS::AccountId' },
                      ':log-group:*',
                    ],
                  ],
                },
              },
            },
          }),
        ]),
      },
    });
  });

  it('admits EventBridge to the key for this account’s rules only (to send to the rules’ dead-letter queues)', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
            Resource: '*',
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':events:',
                      { Ref: 'AWS::Region' },
                      ':',
                      { Ref: 'AWS::AccountId' },
                      ':rule/*',
                    ],
                  ],
                },
              },
            },
          },
        ]),
      },
    });
  });

  it('lets each function role use the key through SQS (its dead-letter queue) and DynamoDB (the table) only', () => {
    const via = (service: string) => ({
      StringEquals: {
        'kms:ViaService': { 'Fn::Join': ['', [`${service}.`, { Ref: 'AWS::Region' }, '.amazonaws.com']] },
      },
    });
    const functions = ofType(template, 'AWS::Lambda::Function');
    expect(functions.length).toBe(7);
    const policies = ofType(template, 'AWS::IAM::Policy');
    for (const [id, fn] of functions) {
      const roleId = (fn.Properties?.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const statements = policies
        .filter(([, p]) => (p.Properties?.Roles as unknown[]).some((r) => JSON.stringify(r).includes(roleId)))
        .flatMap(([, p]) => p.Properties?.PolicyDocument.Statement as Record<string, unknown>[]);
      const onKey = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify(keyArn));
      expect(onKey, id).toStrictEqual(
        expect.arrayContaining([
          expect.objectContaining({ Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Condition: via('sqs') }),
          expect.objectContaining({ Condition: via('dynamodb') }),
        ]),
      );
      // No use of the key outside a service that encrypts for the role.
      for (const s of onKey) expect(s.Condition, id).toBeDefined();
    }
  });
});

describe('encryptionKey not given', () => {
  let phoenix: SynthesizedPhoenix;
  beforeAll(() => {
    phoenix = synthPhoenix();
  });
  afterAll(() => phoenix.dispose());

  it('creates no key and keeps AWS managed or AWS-owned encryption everywhere', () => {
    const types = Object.values(phoenix.resources).map((r) => r.Type);
    expect(types).not.toContain('AWS::KMS::Key');
    phoenix.template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, KMSMasterKeyId: Match.absent() },
    });
    for (const [id, r] of Object.entries(phoenix.resources)) {
      if (r.Type === 'AWS::SQS::Queue') expect(r.Properties?.SqsManagedSseEnabled, id).toBe(true);
      if (r.Type === 'AWS::Logs::LogGroup') expect(r.Properties?.KmsKeyId, id).toBeUndefined();
      if (r.Type === 'AWS::Lambda::Function') expect(r.Properties?.KmsKeyArn, id).toBeUndefined();
    }
  });
});
