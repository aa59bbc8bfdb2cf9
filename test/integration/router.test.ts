/**
 * The rule router against the emulator: rules created from real patterns route events put with
 * PutEvents (the emulator's pattern engine decides), a failing handler's event lands in its
 * dead-letter queue after Lambda's retries, InputPath and schedules work, stop waits for handlers.
 */
import {
  EventBridgeClient,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
} from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../local/log';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import type { Delivery } from '../../local/router';
import { calls, clearCalls } from '../fixtures/local-runtime/recorder';
import { FIXTURE_BUS, FIXTURE_HANDLERS_DIR, fixtureTemplate } from '../fixtures/local-runtime/template';
import { useEmulator } from '../support/emulator';

const emulator = useEmulator();
let runtime: LocalRuntime;
let events: EventBridgeClient;
let sqs: SQSClient;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    emulatorEndpoint: emulator.endpoint,
    template: fixtureTemplate(),
    handlersDir: FIXTURE_HANDLERS_DIR,
    timeScale: 0.01,
    log: silentLogger,
  });
  events = new EventBridgeClient(emulator.clientConfig());
  sqs = new SQSClient(emulator.clientConfig());
});

afterAll(async () => {
  await runtime?.stop();
  events?.destroy();
  sqs?.destroy();
});

beforeEach(() => clearCalls());

/** Deliveries seen from now on. */
function collect(): { deliveries: Delivery[]; stop: () => void } {
  const deliveries: Delivery[] = [];
  const stop = runtime.router.onDelivery((d) => deliveries.push(d));
  return { deliveries, stop };
}

async function receiveAll(queueUrl: string, waitMs = 3000) {
  const deadline = Date.now() + waitMs;
  const messages = [];
  while (Date.now() < deadline) {
    const result = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        WaitTimeSeconds: 1,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    messages.push(...(result.Messages ?? []));
    if (messages.length > 0) break;
  }
  return messages;
}

describe('provisioning', () => {
  it('creates every rule with its exact pattern on its bus, targeting a router queue', async () => {
    const onBus = await events.send(new ListRulesCommand({ EventBusName: FIXTURE_BUS }));
    const prefixRule = runtime.model.rules.find((r) => r.logicalId === 'PrefixRule')!;
    const created = onBus.Rules?.find((r) => r.Name === prefixRule.name);
    expect(created).toBeDefined();
    expect(JSON.parse(created!.EventPattern!)).toEqual({
      source: ['fixture.app'],
      'detail-type': ['Parameter Changed'],
      detail: { name: [{ prefix: '/phoenix/channels/' }], operation: ['Create', 'Update'] },
    });
    const targets = await events.send(
      new ListTargetsByRuleCommand({ Rule: prefixRule.name, EventBusName: FIXTURE_BUS }),
    );
    expect(targets.Targets?.map((t) => t.Arn)).toEqual([
      `arn:aws:sqs:${runtime.region}:123456789012:phoenix-rule-PrefixRule`,
    ]);
    const onDefault = await events.send(new ListRulesCommand({}));
    expect(onDefault.Rules?.map((r) => r.Name).sort()).toEqual(
      ['DetailRule', 'FailRule', 'MachineRule'].map((id) => `phoenix-${id}`),
    );
  });

  it('sets the functions environment from the template, tokens resolved', () => {
    expect(process.env.FIXTURE_SETTING).toBe('shared-value');
    expect(process.env.FIXTURE_BUS_NAME).toBe(FIXTURE_BUS);
    expect(process.env.FIXTURE_TABLE_NAME).toBe('phoenix-Table');
    expect(process.env.FIXTURE_REGION).toBe(`${runtime.region}/123456789012`);
    expect(process.env.FIXTURE_MACHINE_ARN).toBe(
      `arn:aws:states:${runtime.region}:123456789012:stateMachine:phoenix-Machine`,
    );
    expect(process.env.AWS_ENDPOINT_URL).toBe(emulator.endpoint);
    expect(process.env.AWS_ENDPOINT_URL_SFN).toBe(runtime.stepFunctionsEndpoint);
  });
});

describe('routing', () => {
  it('delivers an event that the rule pattern matches (prefix) to the bound function, and no other', async () => {
    const seen = collect();
    const detail = (name: string, operation = 'Update') =>
      JSON.stringify({ name, operation, type: 'String' });
    const put = await events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: FIXTURE_BUS,
            Source: 'fixture.app',
            DetailType: 'Parameter Changed',
            Detail: detail('/other/web'),
          },
          {
            EventBusName: FIXTURE_BUS,
            Source: 'fixture.app',
            DetailType: 'Parameter Changed',
            Detail: detail('/phoenix/channels/web', 'Delete'),
          },
          {
            Source: 'fixture.app',
            DetailType: 'Parameter Changed',
            Detail: detail('/phoenix/channels/default-bus'),
          },
          {
            EventBusName: FIXTURE_BUS,
            Source: 'fixture.app',
            DetailType: 'Parameter Changed',
            Detail: detail('/phoenix/channels/web'),
          },
        ],
      }),
    );
    expect(put.FailedEntryCount).toBe(0);

    const delivery = await runtime.router.waitForDelivery((d) => d.ruleLogicalId === 'PrefixRule', 15_000);
    expect(delivery.outcome).toBe('succeeded');
    expect(delivery.targetKind).toBe('lambda');
    expect(delivery.attempts).toBe(1);
    expect(delivery.result).toMatchObject({ setting: 'shared-value' });
    // Let anything else that (wrongly) matched arrive: two receive cycles.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    seen.stop();

    const echoed = calls('echo');
    expect(echoed).toHaveLength(1);
    const event = echoed[0]!.event as { source: string; 'detail-type': string; detail: unknown; id: unknown };
    expect(event.source).toBe('fixture.app');
    expect(event['detail-type']).toBe('Parameter Changed');
    expect(event.detail).toEqual({ name: '/phoenix/channels/web', operation: 'Update', type: 'String' });
    expect(typeof event.id).toBe('string');
    expect(echoed[0]!.functionName).toBe('phoenix-EchoFunction');
    // The context counts down the simulated deadline: the 10 s timeout × the time scale (0.01).
    expect(echoed[0]!.remainingMs).toBeGreaterThan(0);
    expect(echoed[0]!.remainingMs).toBeLessThanOrEqual(100);
    expect(seen.deliveries.filter((d) => d.ruleLogicalId === 'PrefixRule')).toHaveLength(1);
  });

  it('hands the target only what its InputPath selects', async () => {
    await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'fixture.detail', DetailType: 'x', Detail: JSON.stringify({ key: 'input-path', n: 1 }) },
        ],
      }),
    );
    const delivery = await runtime.router.waitForDelivery((d) => d.ruleLogicalId === 'DetailRule', 15_000);
    expect(delivery.outcome).toBe('succeeded');
    expect(calls('flaky').map((c) => c.event)).toEqual([{ key: 'input-path', n: 1 }]);
  });

  it('starts an execution for a state machine target, with the event as input', async () => {
    await events.send(
      new PutEventsCommand({ Entries: [{ Source: 'fixture.machine', DetailType: 'go', Detail: '{}' }] }),
    );
    const delivery = await runtime.router.waitForDelivery((d) => d.ruleLogicalId === 'MachineRule', 15_000);
    expect(delivery.outcome).toBe('succeeded');
    expect(delivery.executionArn).toMatch(/:execution:phoenix-Machine:/);
    const record = await runtime.stepFunctions.waitForExecution(delivery.executionArn!, {
      timeoutMs: 15_000,
    });
    expect(record.status).toBe('SUCCEEDED');
    const output = JSON.parse(record.output!);
    expect(output.source).toBe('fixture.machine');
    expect(output.echo.echoed).toEqual({ from: 'fixture.machine', execution: record.name });
  });
});

describe('failures', () => {
  it('retries a failing handler like an async invocation, then puts the event in the function DLQ', async () => {
    const started = Date.now();
    await events.send(
      new PutEventsCommand({
        Entries: [{ Source: 'fixture.fail', DetailType: 'boom', Detail: JSON.stringify({ n: 42 }) }],
      }),
    );
    const delivery = await runtime.router.waitForDelivery((d) => d.ruleLogicalId === 'FailRule', 20_000);
    expect(delivery.outcome).toBe('dead-lettered');
    expect(delivery.attempts).toBe(3); // 1 + MaximumRetryAttempts 2
    expect(delivery.error).toEqual({
      errorType: 'NamedFailure',
      errorMessage: 'the fixture handler always fails',
    });
    // Retries wait 60 s and 120 s, scaled by 0.01.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_700);
    const failCalls = calls('fail');
    expect(failCalls).toHaveLength(3);
    expect(failCalls[1]!.at - failCalls[0]!.at).toBeGreaterThanOrEqual(550);
    expect(failCalls[2]!.at - failCalls[1]!.at).toBeGreaterThanOrEqual(1_150);

    const dlq = runtime.model.queues.find((q) => q.logicalId === 'FailDlq')!;
    expect(delivery.deadLetteredTo).toEqual([dlq.arn]);
    const messages = await receiveAll(dlq.url);
    expect(messages).toHaveLength(1);
    const body = JSON.parse(messages[0]!.Body!);
    expect(body.source).toBe('fixture.fail');
    expect(body.detail).toEqual({ n: 42 });
    const attributes = messages[0]!.MessageAttributes!;
    expect(attributes.ErrorCode?.StringValue).toBe('200');
    expect(attributes.ErrorMessage?.StringValue).toBe('the fixture handler always fails');
    expect(attributes.RequestID?.StringValue).toBe(failCalls[2]!.requestId);
  });
});
