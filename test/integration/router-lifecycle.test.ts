/**
 * The local runtime's lifecycle around the router: rate(...) schedules fire (scaled), and stop()
 * waits for a handler that is running, then restores the environment.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../local/log';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { calls } from '../fixtures/local-runtime/recorder';
import { FIXTURE_HANDLERS_DIR, fixtureTemplateWithSchedule } from '../fixtures/local-runtime/template';
import { useEmulator } from '../support/emulator';

const emulator = useEmulator();
let runtime: LocalRuntime | undefined;

afterAll(async () => {
  await runtime?.stop();
});

describe('local runtime lifecycle', () => {
  it('fires a rate schedule every rate × timeScale, then stop() waits for the running handler', async () => {
    const before = process.env.AWS_ENDPOINT_URL_SFN;
    runtime = await startLocalRuntime({
      emulatorEndpoint: emulator.endpoint,
      template: fixtureTemplateWithSchedule(),
      handlersDir: FIXTURE_HANDLERS_DIR,
      timeScale: 0.005, // rate(1 minute) → every 300 ms
      log: silentLogger,
    });
    const scheduleRule = runtime.model.rules.find((r) => r.logicalId === 'ScheduleRule')!;
    const first = await runtime.router.waitForDelivery((d) => d.ruleLogicalId === 'ScheduleRule', 10_000);
    const second = await runtime.router.waitForDelivery((d) => d.ruleLogicalId === 'ScheduleRule', 10_000);
    for (const delivery of [first, second]) {
      expect(delivery.outcome).toBe('succeeded');
      expect(delivery.payload).toMatchObject({
        source: 'aws.events',
        'detail-type': 'Scheduled Event',
        resources: [scheduleRule.arn],
        detail: {},
      });
    }

    // A handler that takes 800 ms is running when stop() is called.
    const events = new EventBridgeClient(emulator.clientConfig());
    await events.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'fixture.detail',
            DetailType: 'x',
            Detail: JSON.stringify({ key: 'slow', sleepMs: 800 }),
          },
        ],
      }),
    );
    events.destroy();
    const deadline = Date.now() + 10_000;
    while (calls('flaky').length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(calls('flaky')).toHaveLength(1);
    expect(calls('flaky-done')).toHaveLength(0);
    const stopping = Date.now();
    await runtime.stop();
    expect(calls('flaky-done')).toHaveLength(1);
    expect(Date.now() - stopping).toBeGreaterThanOrEqual(300);
    expect(runtime.router.inFlight).toBe(0);
    expect(process.env.AWS_ENDPOINT_URL_SFN).toBe(before);
    expect(process.env.FIXTURE_SETTING).toBeUndefined();

    // Stopped means stopped: no more scheduled deliveries.
    const echoes = calls('echo').length;
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(calls('echo')).toHaveLength(echoes);
  });
});
