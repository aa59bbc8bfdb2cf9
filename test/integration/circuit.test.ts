/**
 * The circuit breaker against the emulator: a storm of health replacements in one fleet, driven
 * through the real Replace steps (AcquireReplacementSlot flags and checks), the fleet record and the
 * outcomes on the Phoenix bus; then the window clearing, and `phoenix resume`.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DescribeTagsCommand } from '@aws-sdk/client-ec2';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderResume, resumeFleet } from '../../cli/resume';
import { readCircuit } from '../../lambdas/aws/circuit';
import { readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { DetailTypes, Env, Tags } from '../../lambdas/domain/contract';
import type { ReplaceState, ResolvedInstance, SlotState } from '../../lambdas/domain/replace';
import { ReplaceSteps } from '../../lambdas/domain/steps';
import { resetClock, setClock } from '../../lambdas/domain/clock';
import { runReplaceStep } from '../../lambdas/steps/replace';
import type { OutcomeListener } from '../../local/outcomes';
import { World, worldClients } from '../../local/world';
import { freshWorld, REGION } from '../support/control-plane';

const ROOT = path.resolve(__dirname, '../..');
let world: World;
let clients: ReturnType<typeof worldClients>;
let outcomes: OutcomeListener;
let endpoint: string;
let counter = 0;

beforeAll(async () => {
  const fx = await freshWorld();
  ({ endpoint, world, clients, outcomes } = fx);
  return fx.stop;
});

afterEach(() => {
  resetClock();
});

async function fleetOf(size: number, tags: Record<string, string> = {}) {
  const fleet = `cb${++counter}`;
  const imageId = await world.registerImage(`${fleet}-a`, fleet);
  const groupName = await world.createFleet({ fleet, imageId, size });
  for (const [k, v] of Object.entries(tags)) await world.tagGroup(groupName, k, v);
  const instances = (await world.viewFleet(groupName)).instances.map((i) => i.instanceId);
  return { fleet, groupName, instances };
}

const run = <T>(step: string, execution: string, state: ReplaceState) =>
  runReplaceStep({ step: step as never, execution, state }) as Promise<T>;

const input = (fleet: string, instanceId: string, cause: ReplaceState['cause'] = 'health'): ReplaceState => ({
  fleet,
  instanceId,
  cause,
  reason: 'test',
  requestId: `req-${instanceId}`,
});

/** ResolveInstance, TaintInstance, then the first AcquireReplacementSlot, as the workflow runs them. */
/** How a replacement's AcquireReplacementSlot is run: at once, or in turn with others. */
type Turn = (acquire: () => Promise<SlotState>) => Promise<SlotState>;

async function begin(state: ReplaceState, turn: Turn = (acquire) => acquire()) {
  const execution = `${state.fleet}--${state.instanceId}`;
  let s: ReplaceState = {
    ...state,
    instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, execution, state),
  };
  await run(ReplaceSteps.TaintInstance, execution, s);
  const resolved = s;
  s = {
    ...s,
    slot: await turn(() => run<SlotState>(ReplaceSteps.AcquireReplacementSlot, execution, resolved)),
  };
  return { execution, state: s };
}

/** One AcquireReplacementSlot after the other, in the order they ask. */
function inTurn(): Turn {
  let last: Promise<unknown> = Promise.resolve();
  return (acquire) => {
    const mine = last.then(acquire);
    last = mine.catch(() => undefined);
    return mine;
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 1200));
const of = (fleet: string, type: string) =>
  outcomes.received.filter((e) => e.detailType === type && e.detail['fleet'] === fleet);

describe('the circuit breaker against the emulator', () => {
  it('storm: 40% of a fleet of 20 unhealthy at once: at most 30% proceed, the rest skipped, one FleetCircuitOpen', async () => {
    // Budget 100%: only the circuit breaker limits how many proceed.
    const { fleet, instances } = await fleetOf(20, { [Tags.disruptionBudget]: '100%' });
    const sick = instances.slice(0, 8);
    // All resolved and tainted at once; their AcquireReplacementSlot steps one after the other: the
    // emulator (moto, threaded, no locks) does not make conditional writes atomic against truly
    // simultaneous writers, as DynamoDB does, so the test does not depend on the machine's timing.
    const turn = inTurn();
    const started = await Promise.all(sick.map((id) => begin(input(fleet, id), turn)));
    const acquired = started.filter((s) => s.state.slot?.acquired);
    const skipped = started.filter((s) => s.state.slot?.skip !== undefined);
    expect(acquired.length).toBe(6);
    expect(skipped.length).toBe(2);
    for (const s of skipped) {
      expect(s.state.slot).toMatchObject({ acquired: false, circuitOpen: true });
      expect(s.state.slot?.skip).toContain('circuit breaker');
      await runReplaceStep({
        step: ReplaceSteps.ReleaseReplacementSlot,
        execution: s.execution,
        state: s.state,
        outcome: DetailTypes.ReplacementSkipped,
      });
    }
    // Every sick instance is tainted, skipped or not.
    for (const id of sick) {
      const tags = await clients.ec2.send(
        new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }),
      );
      expect(tags.Tags?.find((t) => t.Key === Tags.tainted)?.Value).toBe('health');
    }
    // The flags on the fleet record: one per instance, with timestamps; the circuit open.
    const { state } = await readCircuit(fleet);
    expect(new Set(state?.flags.map((f) => f.instanceId))).toEqual(new Set(sick));
    expect(state?.openedAt).toBeDefined();
    expect((await readFleetRecord(fleet))?.replacementsInFlight).toBe(6);
    // Another health request meanwhile is skipped too, and so is a drift one.
    const late = await begin(input(fleet, instances[10]!));
    expect(late.state.slot?.circuitOpen).toBe(true);
    const drift = await begin(input(fleet, instances[11]!, 'drift'));
    expect(drift.state.slot?.circuitOpen).toBe(true);
    await settle();
    const open = of(fleet, DetailTypes.FleetCircuitOpen);
    expect(open).toHaveLength(1);
    expect(open[0]!.detail).toMatchObject({ windowSeconds: 600, thresholdPercent: 30, limit: 6 });
    expect((open[0]!.detail['instances'] as string[]).length).toBe(7);
    expect(open[0]!.detail['causes']).toEqual(
      expect.arrayContaining([expect.objectContaining({ cause: 'health' })]),
    );
    const skippedOutcomes = of(fleet, DetailTypes.ReplacementSkipped);
    expect(skippedOutcomes.length).toBe(2);
    expect(String(skippedOutcomes[0]!.detail['reason'])).toContain('circuit breaker');
  });

  it('other causes neither count nor trip it; a replacement proceeds again once the window cleared', async () => {
    const { fleet, instances } = await fleetOf(4, {
      [Tags.disruptionBudget]: '100%',
      [Tags.circuitWindowSeconds]: '60',
    });
    const drift = await Promise.all(instances.slice(0, 3).map((id) => begin(input(fleet, id, 'drift'))));
    expect(drift.every((d) => d.state.slot?.acquired)).toBe(true);
    expect((await readCircuit(fleet)).state).toBeUndefined();
    // limit max(1, 30% of 4) = 1: a second health flag opens it.
    const t0 = Date.now();
    setClock(() => new Date(t0));
    expect((await begin(input(fleet, instances[3]!))).state.slot?.acquired).toBe(true);
    const fleet2 = await fleetOf(4, { [Tags.circuitWindowSeconds]: '60' });
    const a = await begin(input(fleet2.fleet, fleet2.instances[0]!));
    const b = await begin(input(fleet2.fleet, fleet2.instances[1]!));
    expect(a.state.slot?.circuitOpen).toBeUndefined();
    expect(b.state.slot?.circuitOpen).toBe(true);
    // 61 s later (the step's clock): the window cleared.
    setClock(() => new Date(t0 + 61_000));
    const c = await begin(input(fleet2.fleet, fleet2.instances[2]!));
    expect(c.state.slot?.circuitOpen).toBeUndefined();
    await settle();
    expect(of(fleet2.fleet, DetailTypes.FleetCircuitOpen)).toHaveLength(1);
    const closed = of(fleet2.fleet, DetailTypes.FleetCircuitClosed);
    expect(closed).toHaveLength(1);
    expect(String(closed[0]!.detail['reason'])).toContain('window cleared');
  });

  it('invalid circuit tags are reported with the tag and the value; the defaults apply', async () => {
    const { fleet, instances } = await fleetOf(2, {
      [Tags.circuitThreshold]: 'half',
      [Tags.circuitWindowSeconds]: '-1',
    });
    const resolved = await run<ResolvedInstance>(
      ReplaceSteps.ResolveInstance,
      'x',
      input(fleet, instances[0]!),
    );
    expect(resolved).toMatchObject({ circuitThresholdPercent: 30, circuitWindowSeconds: 600 });
    await settle();
    const reported = of(fleet, DetailTypes.CircuitBreakerInvalid).map((e) => [
      e.detail['tag'],
      e.detail['value'],
    ]);
    expect(reported).toEqual(
      expect.arrayContaining([
        [Tags.circuitThreshold, 'half'],
        [Tags.circuitWindowSeconds, '-1'],
      ]),
    );
  });

  it('phoenix resume closes the circuit (flags cleared, FleetCircuitClosed); replacements proceed again', async () => {
    const { fleet, instances } = await fleetOf(3, { [Tags.disruptionBudget]: '100%' });
    await begin(input(fleet, instances[0]!));
    expect((await begin(input(fleet, instances[1]!))).state.slot?.circuitOpen).toBe(true);
    const report = await resumeFleet(fleet);
    expect(report).toMatchObject({ fleet, wasOpen: true });
    expect(report.flagsCleared.map((f) => f.instanceId).sort()).toEqual(instances.slice(0, 2).sort());
    expect(renderResume(report)).toContain('circuit closed');
    expect((await readCircuit(fleet)).state).toEqual({ flags: [] });
    expect((await begin(input(fleet, instances[2]!))).state.slot?.acquired).toBe(true);
    await settle();
    const closed = of(fleet, DetailTypes.FleetCircuitClosed);
    expect(closed).toHaveLength(1);
    expect(closed[0]!.detail).toMatchObject({ wasOpen: true, reason: expect.stringContaining('operator') });
  });

  it('the CLI process: phoenix resume --json with --table and the environment', async () => {
    const { fleet, instances } = await fleetOf(3);
    await begin(input(fleet, instances[0]!));
    await begin(input(fleet, instances[1]!));
    const base = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) =>
          !/^(AWS_ENDPOINT_URL|AWS_REGION|AWS_DEFAULT_REGION|PHOENIX_(TABLE|ROLLOUT|EVENT))/.test(key),
      ),
    );
    const { stdout } = await promisify(execFile)(
      'node',
      ['bin/phoenix.js', 'resume', fleet, '--json', '--table', process.env[Env.tableName]!],
      {
        cwd: ROOT,
        env: {
          ...base,
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_ENDPOINT_URL: endpoint,
          AWS_REGION: REGION,
          [Env.eventBusName]: process.env[Env.eventBusName]!,
        },
        timeout: 60_000,
      },
    );
    expect(JSON.parse(stdout)).toMatchObject({ fleet, wasOpen: true });
    await settle();
    expect(of(fleet, DetailTypes.FleetCircuitClosed)).toHaveLength(1);
  });
});
