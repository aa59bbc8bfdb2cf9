/**
 * Chaos mode against the emulator: a kill terminates one serving instance without decrement (the
 * group launches the replacement), is claimed on the fleet record (one per period, even for a run
 * that read the record before another run claimed), is held back for safety with an outcome, and a
 * run's AWS calls are batched.
 *
 * Two runs are interleaved explicitly rather than raced with Promise.all, so the test says which
 * read came before which claim. (The emulator applies a conditional update atomically, as DynamoDB
 * does, through the lock in local/emulator.ts; test/integration/emulator-compat.test.ts checks it.)
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DeleteTagsCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { claimChaosKill } from '../../lambdas/aws/store/chaos-claims';
import { acquireSlot } from '../../lambdas/aws/store/replacement-slots';
import { DetailTypes, Env, Tags } from '../../lambdas/domain/contract';
import { runChaos } from '../../lambdas/steps/chaos';
import { chaosNow } from '../../cli/chaos';
import { ConfigurationError } from '../../lambdas/domain/errors';
import type { OutcomeListener } from '../../local/outcomes';
import { World, worldClients } from '../../local/world';
import { freshWorld, REGION } from '../support/control-plane';

const HOUR = 3600;
let world: World;
let clients: ReturnType<typeof worldClients>;
let outcomes: OutcomeListener;
let emulator: string;

beforeAll(async () => {
  const fx = await freshWorld();
  ({ endpoint: emulator, world, clients, outcomes } = fx);
  return fx.stop;
});

/** A fleet with chaos on; a mean of 0.01 day (< 1 h) makes a kill due in every hourly period. */
async function chaosFleet(fleet: string, size: number, tags: Record<string, string> = {}) {
  const imageId = await world.registerImage(`${fleet}-a`, fleet);
  const groupName = await world.createFleet({
    fleet,
    imageId,
    size,
    tags: { [Tags.chaos]: '0.01', [Tags.chaosHours]: '00-24', ...tags },
  });
  const instances = (await world.viewFleet(groupName)).instances.map((i) => i.instanceId);
  return { fleet, imageId, groupName, instances };
}

/** Stop a fleet taking part in later tests' runs. */
async function chaosOff(groupName: string) {
  await clients.autoScaling.send(
    new DeleteTagsCommand({
      Tags: [{ ResourceId: groupName, ResourceType: 'auto-scaling-group', Key: Tags.chaos }],
    }),
  );
}

const of = (fleet: string, report: Awaited<ReturnType<typeof runChaos>>) =>
  report.decisions.filter((d) => d.fleet === fleet);

describe('chaos against the emulator', () => {
  it('kills one serving instance without decrement; Auto Scaling launches its replacement at once', async () => {
    const f = await chaosFleet('victim', 3);
    const now = new Date('2026-11-27T10:15:00Z');
    const report = await runChaos({ now, periodSeconds: HOUR });
    const [decision] = of('victim', report);
    expect(decision).toMatchObject({
      action: 'kill',
      period: '2026-11-27T10:00:00.000Z',
      probability: 1,
      groupName: f.groupName,
    });
    const killed = decision!.action === 'kill' ? decision!.instanceId : '';
    expect(f.instances).toContain(killed);

    const view = await world.viewFleet(f.groupName);
    expect(view.desiredCapacity).toBe(3);
    const serving = view.instances.filter((i) => i.lifecycleState === 'InService');
    expect(serving).toHaveLength(3);
    expect(serving.map((i) => i.instanceId)).not.toContain(killed);
    expect(serving.every((i) => i.imageId === f.imageId)).toBe(true);

    expect((await readFleetRecord('victim'))?.lastChaosKill).toEqual({
      at: now.toISOString(),
      instanceId: killed,
      period: '2026-11-27T10:00:00.000Z',
    });
    const event = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ChaosKill && e.detail['fleet'] === 'victim',
    );
    expect(event.detail).toEqual({
      fleet: 'victim',
      instanceId: killed,
      groupName: f.groupName,
      period: '2026-11-27T10:00:00.000Z',
      probability: 1,
    });

    // Later in the same period: nothing more.
    const again = await runChaos({ now: new Date('2026-11-27T10:45:00Z'), periodSeconds: HOUR });
    expect(of('victim', again)).toMatchObject([{ action: 'skip', code: 'already-killed' }]);
    expect((await world.viewFleet(f.groupName)).instances.map((i) => i.instanceId).sort()).toEqual(
      serving.map((i) => i.instanceId).sort(),
    );
    await chaosOff(f.groupName);
  });

  it('two runs of one period: one kill; a run that read before the other claimed is refused by the conditional claim', async () => {
    const f = await chaosFleet('raced', 4);
    const now = new Date('2026-11-27T11:30:00Z');
    // Run B reads (and decides) before run A claims ...
    const b = of('raced', await runChaos({ now, periodSeconds: HOUR, act: false }));
    expect(b).toMatchObject([{ action: 'kill' }]);
    // ... run A kills ...
    const a = of('raced', await runChaos({ now, periodSeconds: HOUR }));
    expect(a).toMatchObject([{ action: 'kill' }]);
    // ... and run B's claim, made on its stale decision, is refused: the period's kill is taken.
    const decided = b[0]!.action === 'kill' ? b[0]! : undefined;
    const claim = await claimChaosKill({
      fleet: 'raced',
      period: decided!.period,
      instanceId: decided!.instanceId,
      now: new Date(now.getTime() + 1000),
    });
    expect(claim).toMatchObject({ claimed: false, record: { lastChaosKill: { period: decided!.period } } });
    // A run that reads after the kill does not try.
    expect(of('raced', await runChaos({ now, periodSeconds: HOUR }))).toMatchObject([
      { action: 'skip', code: 'already-killed' },
    ]);
    const view = await world.viewFleet(f.groupName);
    expect(view.desiredCapacity).toBe(4);
    expect(view.instances.filter((i) => f.instances.includes(i.instanceId))).toHaveLength(3);
    expect(view.instances.filter((i) => i.lifecycleState === 'InService')).toHaveLength(4);
    await chaosOff(f.groupName);
  });

  it('held back for safety: ChaosSkipped with the reason; nothing terminated', async () => {
    const rolling = await chaosFleet('rolling', 2);
    await acquireLock({
      fleet: 'rolling',
      channel: 'rolling',
      now: new Date(),
      lock: {
        execution: 'roll-1',
        imageId: rolling.imageId,
        startedAt: new Date().toISOString(),
        expiresAt: Math.floor(Date.now() / 1000) + 3600,
      },
    });
    const replacing = await chaosFleet('replacing', 2);
    await acquireSlot({
      fleet: 'replacing',
      instanceId: 'i-0abc',
      execution: 'rep-1',
      budget: 1,
      now: new Date(),
    });
    const invalid = await chaosFleet('invalid', 2, { [Tags.chaos]: 'sometimes' });
    // Now, in real time: the lock and the slot above are real-time (valid for the next hour), so a
    // fixed hour of today could lie past their expiry. `asleep`'s hours are the half of the day
    // that does not hold the current hour.
    const now = new Date();
    const hours = now.getUTCHours() < 12 ? '13-23' : '01-11';
    const asleep = await chaosFleet('asleep', 2, { [Tags.chaosHours]: hours });

    const report = await runChaos({ now, periodSeconds: HOUR });
    expect(of('rolling', report)).toMatchObject([{ action: 'skip', code: 'rollout-in-flight' }]);
    expect(of('replacing', report)).toMatchObject([{ action: 'skip', code: 'replacement-in-flight' }]);
    expect(of('invalid', report)).toMatchObject([
      { action: 'skip', code: 'invalid-tag', tag: Tags.chaos, value: 'sometimes' },
    ]);
    expect(of('asleep', report)).toMatchObject([{ action: 'skip', code: 'outside-hours' }]);
    expect(report.kills).toBe(0);

    for (const fleet of ['rolling', 'replacing']) {
      const skipped = await outcomes.waitFor(
        (e) => e.detailType === DetailTypes.ChaosSkipped && e.detail['fleet'] === fleet,
      );
      expect(skipped.detail['reason']).toEqual(expect.stringContaining('in flight'));
    }
    const bad = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ChaosSkipped && e.detail['fleet'] === 'invalid',
    );
    expect(bad.detail).toMatchObject({ code: 'invalid-tag', tag: Tags.chaos, value: 'sometimes' });
    expect(String(bad.detail['reason'])).toContain(`${Tags.chaos}="sometimes"`);
    // Outside the hours is only logged, not an outcome.
    expect(outcomes.received.filter((e) => e.detail['fleet'] === 'asleep')).toEqual([]);

    for (const f of [rolling, replacing, invalid, asleep]) {
      const view = await world.viewFleet(f.groupName);
      expect(view.instances.map((i) => i.instanceId).sort()).toEqual([...f.instances].sort());
      await chaosOff(f.groupName);
    }
  });

  it('the claim re-checks safety on the record itself (a replacement started after the read)', async () => {
    await acquireSlot({
      fleet: 'late',
      instanceId: 'i-0late',
      execution: 'rep-2',
      budget: 1,
      now: new Date(),
    });
    const claim = await claimChaosKill({
      fleet: 'late',
      period: '2026-11-27T12:00:00.000Z',
      instanceId: 'i-0x',
      now: new Date(),
    });
    expect(claim).toMatchObject({ claimed: false, record: { replacementsInFlight: 1 } });
    // A paused fleet (the pause command's record field) refuses too; a cleared one accepts.
    const dynamo = new DynamoDBClient({});
    await dynamo.send(
      new UpdateItemCommand({
        TableName: process.env[Env.tableName]!,
        Key: { pk: { S: 'FLEET#napping' } },
        UpdateExpression: 'SET paused = :p',
        ExpressionAttributeValues: {
          ':p': { M: { at: { S: new Date().toISOString() }, reason: { S: 'x' } } },
        },
      }),
    );
    const refused = await claimChaosKill({
      fleet: 'napping',
      period: '2026-11-27T12:00:00.000Z',
      instanceId: 'i-0z',
      now: new Date(),
    });
    expect(refused).toMatchObject({ claimed: false, record: { paused: { reason: 'x' } } });
    await dynamo.send(
      new UpdateItemCommand({
        TableName: process.env[Env.tableName]!,
        Key: { pk: { S: 'FLEET#napping' } },
        UpdateExpression: 'REMOVE paused',
      }),
    );
    expect(
      await claimChaosKill({
        fleet: 'napping',
        period: '2026-11-27T12:00:00.000Z',
        instanceId: 'i-0z',
        now: new Date(),
      }),
    ).toEqual({ claimed: true });
    dynamo.destroy();
    const ok = await claimChaosKill({
      fleet: 'fresh',
      period: '2026-11-27T12:00:00.000Z',
      instanceId: 'i-0y',
      now: new Date(),
    });
    expect(ok).toEqual({ claimed: true });
  });

  it('a dry run decides and changes nothing; a run of 3 fleets makes 1 describe + 1 batch read', async () => {
    const fleets = [await chaosFleet('dry1', 2), await chaosFleet('dry2', 2), await chaosFleet('dry3', 2)];
    const now = new Date('2026-11-27T13:05:00Z');
    const dry = await runChaos({ now, periodSeconds: HOUR, act: false });
    expect(dry.calls).toEqual({ DescribeAutoScalingGroups: 1, BatchGetItem: 1 });
    expect(dry.fleets).toBe(3);
    expect(dry.decisions.map((d) => [d.fleet, d.action])).toEqual([
      ['dry1', 'kill'],
      ['dry2', 'kill'],
      ['dry3', 'kill'],
    ]);
    expect(dry.kills).toBe(0);
    for (const f of fleets) {
      expect((await world.viewFleet(f.groupName)).instances.map((i) => i.instanceId).sort()).toEqual(
        [...f.instances].sort(),
      );
      expect(await readFleetRecord(f.fleet)).toBeUndefined();
    }
    // The real run: the same decisions, 3 claims, 3 terminations, 3 outcomes.
    const real = await runChaos({ now, periodSeconds: HOUR });
    expect(real.decisions.map((d) => (d.action === 'kill' ? d.instanceId : d.code))).toEqual(
      dry.decisions.map((d) => (d.action === 'kill' ? d.instanceId : d.code)),
    );
    expect(real.calls).toEqual({
      DescribeAutoScalingGroups: 1,
      BatchGetItem: 1,
      UpdateItem: 3,
      TerminateInstanceInAutoScalingGroup: 3,
      PutEvents: 3,
    });
    expect(real.apiCalls).toBe(11);
  });

  it('the CLI process: phoenix chaos --at <time> --dry-run prints each decision', async () => {
    const f = await chaosFleet('cli', 2, { [Tags.chaosHours]: '09-17' });
    const base = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !/^(AWS_ENDPOINT_URL|AWS_REGION|AWS_DEFAULT_REGION|PHOENIX_)/.test(key),
      ),
    );
    const run = async (...args: string[]) =>
      (
        await promisify(execFile)(
          'node',
          ['bin/phoenix.js', 'chaos', ...args, '--dry-run', '--table', process.env[Env.tableName]!],
          {
            cwd: path.resolve(__dirname, '../..'),
            env: {
              ...base,
              AWS_ACCESS_KEY_ID: 'test',
              AWS_SECRET_ACCESS_KEY: 'test',
              AWS_ENDPOINT_URL: emulator,
              AWS_REGION: REGION,
            },
            timeout: 60_000,
          },
        )
      ).stdout;
    const inHours = await run('--at', '2026-11-27T14:20:00Z');
    expect(inHours).toContain('chaos period 2026-11-27T14:00:00.000Z (3600 s)');
    expect(inHours).toContain('(dry run)');
    expect(inHours).toMatch(new RegExp(`cli\\s+would kill i-[0-9a-f]+ of ${f.groupName} p=1\\.0000`));
    const atNight = await run('--at', '2026-11-27T23:20:00Z', '--json');
    const report = JSON.parse(atNight) as { decisions: { fleet: string; code?: string }[]; kills: number };
    expect(report.decisions.find((d) => d.fleet === 'cli')).toMatchObject({ code: 'outside-hours' });
    expect(report.kills).toBe(0);
    // Nothing was touched.
    expect((await world.viewFleet(f.groupName)).instances.map((i) => i.instanceId).sort()).toEqual(
      [...f.instances].sort(),
    );
    await expect(chaosNow({ at: 'yesterday', dryRun: true })).rejects.toThrow(ConfigurationError);
    await expect(chaosNow({ periodSeconds: 5, dryRun: true })).rejects.toThrow(/at least 60/);
    await chaosOff(f.groupName);
  });
});
