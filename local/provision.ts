/**
 * Create the control plane's resources in the emulator, through the real SDK v3 clients: tables,
 * event buses, queues, and every rule with its exact pattern on its bus.
 *
 * Routing is the emulator's job: each rule target that the local runtime serves (a function or a
 * state machine of the template) becomes an SQS queue `phoenix-rule-<ruleLogicalId>` in the
 * emulator and the rule's target in the emulator's EventBridge; the router (router.ts) consumes
 * these queues. SQS-queue and event-bus targets are put on the rule as they are.
 *
 * Idempotent: what already exists (an emulator reused across runs) is kept.
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createHash } from 'node:crypto';
import { logsApi } from '../cli/logs-api';
import { createLogger, type LocalLogger } from './log';
import type { LocalModel, LocalRule, LocalRuleTarget } from './template';

/** Creating a resource in the emulator failed, or the emulator named it differently than the model. */
export class ProvisionError extends Error {
  override readonly name = 'ProvisionError';
}

/** The queue through which the emulator's EventBridge hands one rule target's events to the router. */
export interface RuleQueue {
  readonly rule: LocalRule;
  readonly target: LocalRuleTarget;
  readonly queueName: string;
  readonly queueUrl: string;
  readonly queueArn: string;
}

export interface Provisioned {
  readonly ruleQueues: readonly RuleQueue[];
  /** Milliseconds spent. */
  readonly durationMs: number;
}

export interface AwsClientOptions {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** Client configuration for the emulator: explicit endpoint and dummy credentials, no env lookups. */
export function emulatorClientConfig(options: AwsClientOptions) {
  return {
    endpoint: options.endpoint,
    region: options.region,
    credentials: options.credentials ?? { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 3,
  };
}

/** The name of the router queue of a rule target: `phoenix-rule-<ruleLogicalId>[-<targetId>]`. */
export function ruleQueueName(rule: LocalRule, target: LocalRuleTarget): string {
  const base = `phoenix-rule-${rule.logicalId}`;
  const name = rule.targets.length === 1 ? base : `${base}-${target.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  if (name.length <= 80) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, 71)}-${hash}`;
}

/** Does this target need a router queue (the runtime delivers it), or does the emulator deliver it itself? */
export function isRoutedTarget(target: LocalRuleTarget): boolean {
  return target.kind === 'lambda' || target.kind === 'state-machine';
}

/** Seconds a router message stays invisible while its target runs (Lambda's maximum timeout). */
export const RULE_QUEUE_VISIBILITY_TIMEOUT = 900;

export async function provision(
  model: LocalModel,
  options: AwsClientOptions & { log?: LocalLogger },
): Promise<Provisioned> {
  const started = Date.now();
  const log = options.log ?? createLogger();
  const config = emulatorClientConfig(options);
  const dynamo = new DynamoDBClient(config);
  const events = new EventBridgeClient(config);
  const sqs = new SQSClient(config);
  try {
    // Tables.
    for (const table of model.tables) {
      const input: CreateTableCommandInput = {
        TableName: table.name,
        KeySchema: table.keySchema as CreateTableCommandInput['KeySchema'],
        AttributeDefinitions: table.attributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
        BillingMode: table.billingMode as CreateTableCommandInput['BillingMode'],
        ...(table.provisionedThroughput !== undefined
          ? { ProvisionedThroughput: table.provisionedThroughput }
          : {}),
        ...(table.globalSecondaryIndexes !== undefined
          ? {
              GlobalSecondaryIndexes:
                table.globalSecondaryIndexes as unknown as CreateTableCommandInput['GlobalSecondaryIndexes'],
            }
          : {}),
        ...(table.localSecondaryIndexes !== undefined
          ? {
              LocalSecondaryIndexes:
                table.localSecondaryIndexes as unknown as CreateTableCommandInput['LocalSecondaryIndexes'],
            }
          : {}),
        ...(table.streamViewType !== undefined
          ? {
              StreamSpecification: {
                StreamEnabled: true,
                StreamViewType: table.streamViewType as 'NEW_AND_OLD_IMAGES',
              },
            }
          : {}),
      };
      const arn = await existing(`table ${table.name}`, ['ResourceInUseException'], async () => {
        const result = await dynamo.send(new CreateTableCommand(input));
        return result.TableDescription?.TableArn;
      });
      expectSame(`table ${table.logicalId} ARN`, arn, table.arn);
      if (table.timeToLiveAttribute !== undefined) {
        await existing(`TTL of table ${table.name}`, ['ValidationException'], () =>
          dynamo.send(
            new UpdateTimeToLiveCommand({
              TableName: table.name,
              TimeToLiveSpecification: { AttributeName: table.timeToLiveAttribute, Enabled: true },
            }),
          ),
        );
      }
    }

    // Event buses.
    for (const bus of model.eventBuses) {
      const arn = await existing(`event bus ${bus.name}`, ['ResourceAlreadyExistsException'], async () => {
        const result = await events.send(new CreateEventBusCommand({ Name: bus.name }));
        return result.EventBusArn;
      });
      expectSame(`event bus ${bus.logicalId} ARN`, arn, bus.arn);
    }

    // Queues: those without a redrive policy first (they may be the dead-letter queues of the others).
    const queues = [...model.queues].sort(
      (a, b) =>
        Number(a.attributes.RedrivePolicy !== undefined) - Number(b.attributes.RedrivePolicy !== undefined),
    );
    for (const queue of queues) {
      const url = await createQueue(sqs, queue.name, queue.attributes);
      expectSame(`queue ${queue.logicalId} URL`, url, queue.url);
      const arn = await queueArn(sqs, url);
      expectSame(`queue ${queue.logicalId} ARN`, arn, queue.arn);
    }

    // Rules, with one router queue per routed target.
    const ruleQueues: RuleQueue[] = [];
    for (const rule of model.rules) {
      await events.send(
        new PutRuleCommand({
          Name: rule.name,
          EventBusName: rule.eventBusName,
          State: rule.state,
          ...(rule.eventPattern !== undefined ? { EventPattern: rule.eventPattern } : {}),
          ...(rule.scheduleExpression !== undefined ? { ScheduleExpression: rule.scheduleExpression } : {}),
          ...(rule.description !== undefined ? { Description: rule.description } : {}),
        }),
      );
      const targets = [];
      for (const target of rule.targets) {
        if (isRoutedTarget(target)) {
          const queueName = ruleQueueName(rule, target);
          const queueUrl = await createQueue(sqs, queueName, {
            VisibilityTimeout: String(RULE_QUEUE_VISIBILITY_TIMEOUT),
            MessageRetentionPeriod: '1209600',
          });
          const queueArnValue = await queueArn(sqs, queueUrl);
          ruleQueues.push({ rule, target, queueName, queueUrl, queueArn: queueArnValue });
          targets.push({
            Id: target.id,
            Arn: queueArnValue,
            // The emulator applies input transformers itself; Input and InputPath are the router's job.
            ...(target.inputTransformer !== undefined ? { InputTransformer: target.inputTransformer } : {}),
          });
        } else {
          if (target.kind === 'log-group') await createTargetLogGroup(target.arn, options);
          if (target.input !== undefined || target.inputPath !== undefined) {
            log.warn(
              `rule ${rule.logicalId} target ${target.id}: the emulator ignores Input/InputPath on ${target.kind} targets; the event is delivered whole`,
            );
          }
          targets.push({
            Id: target.id,
            Arn: target.arn,
            ...(target.inputTransformer !== undefined ? { InputTransformer: target.inputTransformer } : {}),
            ...(target.sqsParameters !== undefined ? { SqsParameters: target.sqsParameters } : {}),
          });
        }
      }
      // A schedule-only rule: the emulator never fires schedules (the router does, into the rule's
      // queue), and it would route every event of the bus to a rule without a pattern.
      if (targets.length > 0 && !(rule.scheduleExpression !== undefined && rule.eventPattern === undefined)) {
        const result = await events.send(
          new PutTargetsCommand({ Rule: rule.name, EventBusName: rule.eventBusName, Targets: targets }),
        );
        if ((result.FailedEntryCount ?? 0) > 0) {
          throw new ProvisionError(
            `PutTargets on rule ${rule.name} failed: ${JSON.stringify(result.FailedEntries ?? [])}`,
          );
        }
      }
      log.debug('rule created', { rule: rule.name, bus: rule.eventBusName, targets: targets.length });
    }
    return { ruleQueues, durationMs: Date.now() - started };
  } finally {
    dynamo.destroy();
    events.destroy();
    sqs.destroy();
  }
}

/**
 * The log group of a log-group rule target (the outcome archive): the emulator's EventBridge
 * writes into it (moto creates the stream, not the group).
 */
async function createTargetLogGroup(arn: string, options: AwsClientOptions): Promise<void> {
  const logGroupName = arn.replace(/^arn:[^:]+:logs:[^:]*:[^:]*:log-group:/, '').replace(/:\*$/, '');
  const config = emulatorClientConfig(options);
  await existing(`log group ${logGroupName}`, ['ResourceAlreadyExistsException'], () =>
    logsApi(config).createLogGroup({ logGroupName }),
  );
}

async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> {
  try {
    const result = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (result.QueueUrl === undefined) throw new ProvisionError(`CreateQueue ${name} returned no QueueUrl`);
    return result.QueueUrl;
  } catch (error) {
    if (error instanceof ProvisionError) throw error;
    throw new ProvisionError(`Could not create queue ${name}: ${describe(error)}`);
  }
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = result.Attributes?.QueueArn;
  if (arn === undefined) throw new ProvisionError(`GetQueueAttributes ${url} returned no QueueArn`);
  return arn;
}

/** Run a create call; an "already exists" error counts as success (returns undefined). */
async function existing<T>(
  what: string,
  alreadyExists: string[],
  create: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await create();
  } catch (error) {
    if (alreadyExists.includes((error as Error).name)) return undefined;
    throw new ProvisionError(`Could not create ${what} in the emulator: ${describe(error)}`);
  }
}

function expectSame(what: string, actual: string | undefined, expected: string): void {
  if (actual !== undefined && actual !== expected) {
    throw new ProvisionError(
      `The emulator reports ${what} as ${actual}, the local model computed ${expected}: the template resolver and the emulator disagree`,
    );
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
