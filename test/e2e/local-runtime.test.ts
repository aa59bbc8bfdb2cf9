/**
 * The whole local runtime with the real control plane: the synthesized PhoenixStack, its rules in
 * the emulator, its handlers in-process, its state machine in the local Step Functions service.
 * This file checks the wiring (what is created, what routes where), not the handlers' decisions.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, ListRulesCommand, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeStateMachineCommand, ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_SOURCE, DetailTypes, Env, Handlers } from '../../lambdas/domain/contract';
import { silentLogger } from '../../local/log';
import type { Delivery } from '../../local/router';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { useEmulator } from '../support/emulator';

const emulator = useEmulator();
let runtime: LocalRuntime;
let events: EventBridgeClient;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    emulatorEndpoint: emulator.endpoint,
    timeScale: 0.01,
    // No reconcile sweeps here (test/e2e/reconcile.test.ts has them): only what the test causes.
    fireSchedules: false,
    log: silentLogger,
  });
  events = new EventBridgeClient(emulator.clientConfig());
});

afterAll(async () => {
  await runtime?.stop();
  events?.destroy();
});

describe('local runtime with the synthesized control plane', () => {
  it('reports how long it took to be ready (the benchmark measures it: npm run bench)', () => {
    expect(runtime.readyMs).toBeGreaterThan(0);
  });

  it('creates the bus, the table and the rules in the emulator, and serves the state machine', async () => {
    expect(runtime.resources.eventBusName).toBe('phoenix');
    const table = await new DynamoDBClient(emulator.clientConfig()).send(
      new DescribeTableCommand({ TableName: runtime.resources.tableName }),
    );
    expect(table.Table?.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);

    const onBus = await events.send(new ListRulesCommand({ EventBusName: 'phoenix' }));
    const onDefault = await events.send(new ListRulesCommand({}));
    const created = [...(onBus.Rules ?? []), ...(onDefault.Rules ?? [])].map((r) => r.Name);
    expect(created.sort()).toEqual(runtime.model.rules.map((r) => r.name).sort());
    expect(runtime.model.rules.length).toBeGreaterThanOrEqual(3);

    const sfn = new SFNClient({ ...emulator.clientConfig(), endpoint: runtime.stepFunctionsEndpoint });
    const machines = await sfn.send(new ListStateMachinesCommand({}));
    // Every state machine of the template (Rollout first, then Replace, then Drain).
    expect(machines.stateMachines?.map((m) => m.stateMachineArn).sort()).toEqual(
      Object.values(runtime.resources.stateMachines)
        .map((m) => m.arn)
        .sort(),
    );
    expect(Object.keys(runtime.resources.stateMachines)).toHaveLength(3);
    expect(runtime.resources.stateMachineArn).toContain('Rollout');
    const machine = await sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: runtime.resources.stateMachineArn }),
    );
    expect(JSON.parse(machine.definition!).StartAt).toEqual(expect.any(String));
    sfn.destroy();
  });

  it('gives the handlers the environment the template gives the functions', () => {
    expect(process.env[Env.tableName]).toBe(runtime.resources.tableName);
    expect(process.env[Env.eventBusName]).toBe('phoenix');
    expect(process.env[Env.rolloutStateMachineArn]).toBe(runtime.resources.stateMachineArn);
    expect(process.env[Env.replaceStateMachineArn]).toBe(
      Object.entries(runtime.resources.stateMachines).find(([id]) => id.includes('Replace'))?.[1].arn,
    );
    expect(process.env.AWS_ENDPOINT_URL).toBe(emulator.endpoint);
    expect(process.env.AWS_ENDPOINT_URL_SFN).toBe(runtime.stepFunctionsEndpoint);
    // Every core handler (promote and validate exist only when a channel asks for them).
    expect(Object.keys(runtime.resources.functions).sort()).toEqual(Object.values(Handlers).sort());
  });

  it('routes a PublishImage command on the Phoenix bus to the intake function', async () => {
    await events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: 'phoenix',
            Source: COMMAND_SOURCE,
            DetailType: DetailTypes.PublishImage,
            Detail: JSON.stringify({ channel: 'e2e-nobody-follows', imageId: 'ami-0123456789abcdef0' }),
          },
        ],
      }),
    );
    const delivery = await runtime.router.waitForDelivery(
      (d) => d.ruleLogicalId.includes('PublishImageRule'),
      20_000,
    );
    expect(delivery.targetArn).toBe(runtime.resources.functions[Handlers.intake]!.arn);
    expect(delivery.payload).toMatchObject({
      source: COMMAND_SOURCE,
      'detail-type': DetailTypes.PublishImage,
      detail: { channel: 'e2e-nobody-follows' },
    });
  });

  it('routes a Parameter Store Change by the real prefix pattern, and only under /phoenix/channels/', async () => {
    const deliveries: Delivery[] = [];
    const unsubscribe = runtime.router.onDelivery((d) => deliveries.push(d));
    const change = (name: string) => ({
      Source: 'aws.ssm',
      DetailType: 'Parameter Store Change',
      Detail: JSON.stringify({ name, type: 'String', operation: 'Update', description: '' }),
    });
    await events.send(
      new PutEventsCommand({ Entries: [change('/other/web'), change('/phoenix/channels/e2e')] }),
    );
    const delivery = await runtime.router.waitForDelivery(
      (d) => d.ruleLogicalId.includes('ChannelParameterRule'),
      20_000,
    );
    expect((delivery.payload as { detail: { name: string } }).detail.name).toBe('/phoenix/channels/e2e');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    unsubscribe();
    const routedNames = deliveries
      .filter((d) => d.ruleLogicalId.includes('ChannelParameterRule'))
      .map((d) => (d.payload as { detail: { name: string } }).detail.name);
    expect(routedNames).toEqual(['/phoenix/channels/e2e']);
  });
});
