/**
 * Fault injection against the emulator: the api proxy answers each service's own throttling and
 * 5xx errors (the real SDK clients parse the real names, and Phoenix classifies them transient),
 * resets before and after forwarding (the effect happened, the answer was lost), holds then resets,
 * adds latency, at its rate; the Lambda host's crashes and timeouts, as Lambda reports them, from
 * a direct invocation and from a Step Functions task; the router's losses (recorded), duplicates
 * and delays. Seeded: the same seed, the same decisions.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DescribeRegionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient, ListRulesCommand, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeExecutionCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { CreateQueueCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DescribeParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isThrottled, isTransient } from '../../lambdas/aws/errors';
import { startApiProxy, type ApiProxy } from '../../local/faults/api-proxy';
import type { ApiFaultKind, FaultConfig } from '../../local/faults/config';
import { FaultInjector } from '../../local/faults/injector';
import { LambdaFunctionError } from '../../local/lambda-host';
import { silentLogger } from '../../local/log';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { calls, clearCalls } from '../fixtures/local-runtime/recorder';
import { FIXTURE_BUS, FIXTURE_HANDLERS_DIR, fixtureTemplate } from '../fixtures/local-runtime/template';
import { useEmulator } from '../support/emulator';

const SEED = 1101;
console.log(`faults integration: seed ${SEED}`);

const emulator = useEmulator();

/** A client config through `endpoint`, one attempt (the test sees the answer, not the SDK's retries). */
const through = (endpoint: string) => ({ ...emulator.clientConfig(), endpoint, maxAttempts: 1 });

async function failure(call: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await call;
  } catch (error) {
    return error as Error;
  }
  throw new Error('the call succeeded');
}

describe('the api proxy', () => {
  let proxy: ApiProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });
  const start = async (config: Omit<FaultConfig, 'seed'>, upstream = emulator.endpoint) => {
    const injector = new FaultInjector({ seed: SEED, ...config }, { timeScale: 0.02 });
    proxy = await startApiProxy({ upstream, injector, defaultService: 'states' });
    return { injector, endpoint: proxy.endpoint };
  };

  /** One read per service, through the proxy, with the real SDK clients. */
  const reads = (endpoint: string) => {
    const config = through(endpoint);
    return {
      ec2: () => new EC2Client(config).send(new DescribeRegionsCommand({})),
      autoscaling: () => new AutoScalingClient(config).send(new DescribeAutoScalingGroupsCommand({})),
      elasticloadbalancing: () =>
        new ElasticLoadBalancingV2Client(config).send(new DescribeLoadBalancersCommand({})),
      monitoring: () => new CloudWatchClient(config).send(new DescribeAlarmsCommand({})),
      dynamodb: () => new DynamoDBClient(config).send(new ListTablesCommand({})),
      events: () => new EventBridgeClient(config).send(new ListRulesCommand({})),
      ssm: () => new SSMClient(config).send(new DescribeParametersCommand({})),
      sqs: () => new SQSClient(config).send(new ListQueuesCommand({})),
    };
  };

  it.each<[ApiFaultKind, Record<string, string>]>([
    [
      'throttle',
      {
        ec2: 'RequestLimitExceeded 503',
        autoscaling: 'Throttling 400',
        elasticloadbalancing: 'Throttling 400',
        monitoring: 'Throttling 400',
        dynamodb: 'ProvisionedThroughputExceededException 400',
        events: 'ThrottlingException 400',
        ssm: 'ThrottlingException 400',
        sqs: 'ThrottlingException 400',
      },
    ],
    [
      'server-error',
      {
        ec2: 'InternalError 500',
        autoscaling: 'InternalFailure 500',
        elasticloadbalancing: 'InternalFailure 500',
        monitoring: 'InternalFailure 500',
        dynamodb: 'InternalServerError 500',
        events: 'InternalException 500',
        ssm: 'InternalServerError 500',
        sqs: 'InternalFailure 500',
      },
    ],
  ])(
    '%s: each SDK client parses its service own error; Phoenix calls it transient',
    async (kind, expected) => {
      const { endpoint, injector } = await start({ api: 1, kinds: { api: [kind] } });
      const seen: Record<string, string> = {};
      for (const [service, call] of Object.entries(reads(endpoint))) {
        const error = await failure(call());
        seen[service] = `${error.name} ${String(error.$metadata?.httpStatusCode)}`;
        expect(isTransient(error), service).toBe(true);
        expect(isThrottled(error), service).toBe(kind === 'throttle');
      }
      expect(seen).toEqual(expected);
      expect(injector.total).toBe(8);
    },
  );

  it('answers Step Functions its own errors, in front of the local Step Functions service', async () => {
    const runtime = await startLocalRuntime({
      emulatorEndpoint: emulator.endpoint,
      template: fixtureTemplate(),
      handlersDir: FIXTURE_HANDLERS_DIR,
      timeScale: 0.01,
      fireSchedules: false,
      log: silentLogger,
    });
    try {
      const { endpoint } = await start(
        { api: 1, kinds: { api: ['throttle'] } },
        runtime.stepFunctionsEndpoint,
      );
      const sfn = new SFNClient(through(endpoint));
      const throttled = await failure(sfn.send(new ListStateMachinesCommand({})));
      expect([throttled.name, throttled.$metadata?.httpStatusCode]).toEqual(['ThrottlingException', 400]);
      expect(isThrottled(throttled)).toBe(true);
    } finally {
      await runtime.stop();
    }
  });

  it('reset: nothing happened; reset-after: the effect happened and the answer was lost', async () => {
    const direct = new SQSClient(emulator.clientConfig());
    const exists = async (name: string) =>
      ((await direct.send(new ListQueuesCommand({ QueueNamePrefix: name }))).QueueUrls ?? []).length > 0;

    const before = await start({ api: 1, kinds: { api: ['reset'] } });
    const reset = await failure(
      new SQSClient(through(before.endpoint)).send(new CreateQueueCommand({ QueueName: 'faults-reset' })),
    );
    expect(isTransient(reset)).toBe(true);
    expect(await exists('faults-reset')).toBe(false);
    await proxy!.close();

    const after = await start({ api: 1, kinds: { api: ['reset-after'] } });
    const lost = await failure(
      new SQSClient(through(after.endpoint)).send(new CreateQueueCommand({ QueueName: 'faults-after' })),
    );
    expect(isTransient(lost)).toBe(true);
    expect(await exists('faults-after')).toBe(true);
    expect(before.injector.injected).toEqual({ 'api:sqs': { reset: 1 } });
    expect(after.injector.injected).toEqual({ 'api:sqs': { 'reset-after': 1 } });
  });

  it('timeout holds the request (30 simulated seconds), then resets; latency answers late', async () => {
    const held = await start({ api: 1, kinds: { api: ['timeout'] } });
    let started = Date.now();
    const timedOut = await failure(
      new EC2Client(through(held.endpoint)).send(new DescribeRegionsCommand({})),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(30_000 * 0.02 - 20);
    expect(isTransient(timedOut)).toBe(true);
    await proxy!.close();

    const slow = await start({ api: 1, kinds: { api: ['latency'] } });
    started = Date.now();
    const answer = await new EC2Client(through(slow.endpoint)).send(new DescribeRegionsCommand({}));
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(answer.Regions?.length).toBeGreaterThan(0);
  });

  it('injects at its rate, the same decisions for the same seed', async () => {
    const outcomes = async () => {
      const { endpoint, injector } = await start({ api: 0.2 });
      const ec2 = new EC2Client(through(endpoint));
      const results: string[] = [];
      for (let i = 0; i < 80; i++) {
        results.push(
          await ec2.send(new DescribeRegionsCommand({})).then(
            () => 'ok',
            (error: Error) => (isTransient(error) ? 'transient' : `other ${error.name}`),
          ),
        );
      }
      await proxy!.close();
      return { results, injected: { ...injector.injected['api:ec2'] }, total: injector.total };
    };
    const first = await outcomes();
    const second = await outcomes();
    expect(second).toEqual(first);
    // 80 × 0.2 = 16 ± 3σ (σ ≈ 3.6)
    expect(first.total).toBeGreaterThanOrEqual(6);
    expect(first.total).toBeLessThanOrEqual(27);
    const failed = first.results.filter((r) => r !== 'ok').length;
    expect(failed).toBe(first.total - (first.injected.latency ?? 0));
    expect(first.results.every((r) => r === 'ok' || r === 'transient')).toBe(true);
  });
});

describe('the runtime with faults', () => {
  let runtime: LocalRuntime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    clearCalls();
  });
  afterAll(() => clearCalls());

  const start = async (faults: FaultConfig) => {
    runtime = await startLocalRuntime({
      emulatorEndpoint: emulator.endpoint,
      template: fixtureTemplate(),
      handlersDir: FIXTURE_HANDLERS_DIR,
      timeScale: 0.01,
      fireSchedules: false,
      faults,
      log: silentLogger,
    });
    return runtime;
  };

  it('points the handlers at the proxies, the world keeps the direct endpoints', async () => {
    const rt = await start({ seed: SEED });
    expect(rt.handlerEndpoints.emulator).not.toBe(rt.endpoint);
    expect(process.env.AWS_ENDPOINT_URL).toBe(rt.handlerEndpoints.emulator);
    expect(process.env.AWS_ENDPOINT_URL_SFN).toBe(rt.handlerEndpoints.stepFunctions);
    expect(rt.faults?.total).toBe(0);
  });

  it('Lambda faults: crash before (not called), crash after and timeout (called), as Lambda reports them', async () => {
    const rt = await start({ seed: SEED, lambda: 1 });
    const seen: string[] = [];
    for (let i = 0; i < 12; i++) {
      const before = { ...rt.faults!.injected['lambda:echo'] };
      const called = calls('echo').length;
      const error = await rt.host.invoke(rt.resources.functions.echo!.name, { i }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const after = rt.faults!.injected['lambda:echo']!;
      const kind = Object.keys(after).find((k) => (after[k] ?? 0) > (before[k] ?? 0))!;
      seen.push(kind);
      expect(error).toBeInstanceOf(LambdaFunctionError);
      const e = error as LambdaFunctionError;
      expect(calls('echo').length - called).toBe(kind === 'crash-before' ? 0 : 1);
      if (kind === 'timeout') {
        expect(e.errorType).toBe('Sandbox.Timedout');
        expect(e.errorMessage).toMatch(/^RequestId: \S+ Error: Task timed out after 10\.00 seconds$/);
      } else {
        expect(e.errorType).toBe('Runtime.ExitError');
        expect(e.errorMessage).toMatch(/^RequestId: \S+ Error: Runtime exited with error: exit status 1$/);
      }
    }
    expect(new Set(seen)).toEqual(new Set(['crash-before', 'crash-after', 'timeout']));
    // Same seed, same sequence of decisions.
    await rt.stop();
    const again = await start({ seed: SEED, lambda: 1 });
    const replay: string[] = [];
    for (let i = 0; i < 12; i++) {
      const before = { ...again.faults!.injected['lambda:echo'] };
      await again.host.invoke(again.resources.functions.echo!.name, { i }).catch(() => undefined);
      const after = again.faults!.injected['lambda:echo']!;
      replay.push(Object.keys(after).find((k) => (after[k] ?? 0) > (before[k] ?? 0))!);
    }
    expect(replay).toEqual(seen);
  });

  it("a Step Functions task sees the crash's error name (Retry/Catch match on it)", async () => {
    const rt = await start({ seed: SEED, lambda: 1, kinds: { lambda: ['crash-after'] } });
    const sfn = new SFNClient({ ...emulator.clientConfig(), endpoint: rt.stepFunctionsEndpoint });
    const machine = rt.model.stateMachines[0]!;
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: machine.arn, input: JSON.stringify({ source: 'test' }) }),
    );
    let described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    for (let i = 0; i < 100 && described.status === 'RUNNING'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    }
    expect(described.status).toBe('FAILED');
    expect(described.error).toBe('Runtime.ExitError');
    expect(calls('echo')).toHaveLength(1);
  });
  // Last in its block, after runtimes started and stopped on the same queues: a receive still
  // open when a runtime stopped once took 2 of these 40 events (the router now gives back what it
  // received as it stopped).
  it('event faults: losses recorded (never delivered), duplicates delivered twice, delays reorder', async () => {
    const rt = await start({ seed: SEED, eventLoss: 0.2, eventDuplicate: 0.3, eventDelay: 0.5 });
    const events = new EventBridgeClient(emulator.clientConfig());
    const n = 40;
    const ids: string[] = [];
    for (let i = 0; i < n; i += 10) {
      const put = await events.send(
        new PutEventsCommand({
          Entries: Array.from({ length: 10 }, (_, k) => ({
            EventBusName: FIXTURE_BUS,
            Source: 'fixture.app',
            DetailType: 'Parameter Changed',
            Detail: JSON.stringify({
              name: `/phoenix/channels/c${i + k}`,
              operation: 'Update',
              type: 'String',
            }),
          })),
        }),
      );
      ids.push(...(put.Entries ?? []).map((e) => e.EventId!));
    }
    const injected = () => rt.faults!.injected['events:PrefixRule'] ?? {};
    const expectedCalls = () => n - (injected().loss ?? 0) + (injected().duplicate ?? 0);
    const deadline = Date.now() + 20_000;
    while (
      Date.now() < deadline &&
      (rt.faults!.lostEvents.length + new Set(calls('echo').map(idOf)).size < n ||
        calls('echo').length < expectedCalls())
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const delivered = calls('echo').map(idOf);
    const lost = rt.faults!.lostEvents;
    expect(lost.length).toBe(injected().loss);
    expect(lost.length).toBeGreaterThan(0);
    for (const event of lost) {
      expect(ids).toContain(event.id);
      expect(delivered).not.toContain(event.id);
      expect(event).toMatchObject({
        rule: 'PrefixRule',
        detailType: 'Parameter Changed',
        source: 'fixture.app',
      });
    }
    // Every other event delivered, duplicates twice.
    expect(new Set([...delivered, ...lost.map((e) => e.id)])).toEqual(new Set(ids));
    expect(delivered.length).toBe(expectedCalls());
    const twice = delivered.filter((id, i) => delivered.indexOf(id) !== i);
    expect(twice.length).toBe(injected().duplicate);
    expect(injected().delay).toBeGreaterThan(0);
    events.destroy();
  });
});

function idOf(call: { event: unknown }): string {
  return (call.event as { id: string }).id;
}
