/**
 * Scale under API limits (issue 11 §4; the `scale` figures of bench/run.ts), in the local runtime:
 * its own emulator (moto) with the realism layer's token buckets on (`throttling: true`, AWS's
 * rates: docs/local-runtime.md, Realism) and boot time on, the synthesized control plane with
 * `controlPlane.maxConcurrentRollouts = K`, the real handlers, time scale TIME_SCALE.
 *
 * FLEETS small fleets (SIZE instances each, rolling, default max-surge: SIZE batches of 1), all in
 * one channel, are built and booted; then one image is published into the channel (the image
 * tagged, `PublishImage` on the Phoenix bus, as a user would) and every fleet rolls onto it, at
 * most K at a time. Figures, per K:
 *
 *   - fleets left behind: fleets not every instance of which runs the new image at the end
 *     (target 0; i.e. FLEETS of FLEETS on the new image);
 *   - throttling errors that escaped into an outcome: outcome events (and execution outputs or
 *     causes) whose reason or error names a throttling error (target 0): the SDK's retries and
 *     the workflow's transient-error retry must absorb every throttle;
 *   - peak call rate per API against its bucket: per `service:Action` under a bucket, the most
 *     calls answered in any window of the bucket's refill period (burst ÷ rate s) ÷ what the
 *     bucket lets through in it (burst + rate × window), and the same over 1 s; the figure is the
 *     largest ratio (target 1: within). The emulator counts (GET /phoenix-world/calls);
 *   - wall time ÷ ideal: publication → the last rollout's end, against ⌈FLEETS ÷ K⌉ × one
 *     rollout's minimum, the minimum being its mandatory waits as bench/rollout.ts counts them,
 *     with boot time on: batches × (boot + warm-up) + bake (target 1.10);
 *   - rollout slots held at the end (target 0: no slot leak) and the most rollouts seen in flight
 *     at once (from the executions' histories: lock taken → end; at most K).
 *
 * Token buckets refill in real seconds while the workflow's waits run at the time scale: the load
 * per real second is 1 ÷ TIME_SCALE times what the same fan-out puts on AWS, so the buckets bite
 * harder here than they would there.
 *
 *   npx tsx bench/scale.ts                          K = 10, the figures as JSON then a table
 *   npx tsx bench/scale.ts --max-concurrent 20 --fleets 50
 *   npx tsx bench/scale.ts --json …                 only the JSON (bench/run.ts runs it so, one
 *                                                   child per K: maxConcurrentRollouts is a stack
 *                                                   prop, and the handlers' SDK clients are
 *                                                   process-wide singletons)
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type AutoScalingGroup, paginateDescribeAutoScalingGroups } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ROLLOUT_SLOTS_KEY } from '../lambdas/domain/fleet-record';
import type { ApiCalls } from '../local/emulator';
import { silentLogger } from '../local/log';
import { listenToOutcomes, type OutcomeEvent } from '../local/outcomes';
import { startLocalRuntime, type LocalRuntime } from '../local/runtime';
import type { ExecutionRecord } from '../local/stepfunctions';
import { World, worldClients } from '../local/world';
import { projectSchedule, type RolloutSpan, type WaitSpan } from './projection';
import { REGION, valueAt } from './support';

/**
 * 0.1: a rollout's 150 s minimum takes 15 s; 20 waves of 10 take 300 s. The Lambda steps, which the
 * time scale does not shrink, weigh 1 ÷ 0.1 in simulated seconds (at 0.05, K = 20 measured 4.32 ×
 * the ideal, at 0.1 2.30: the emulator's and the steps' real time is most of the gap).
 */
export const SCALE_TIME_SCALE = 0.1;
/** This run's time scale: `--time-scale` (a larger one weighs the unscaled Lambda steps less, and takes longer). */
const RUN_TIME_SCALE = Number(argValue('--time-scale') ?? SCALE_TIME_SCALE);
const DEFAULT_FLEETS = 200;
const SIZE = 2;
const BOOT_SECONDS = 30;
const WARMUP_SECONDS = 30;
const BAKE_SECONDS = 30;
const CHANNEL = 'scale';
/** Wall time target: this × the ideal. */
const IDEAL_FACTOR = 1.1;
const COMMAND = 'npx tsx bench/scale.ts';
/** The values of K bench/run.ts measures (each ~6–10 min of real time on 2 shared cores: --scale-k picks fewer). */
export const SCALE_CONCURRENCY = [10, 20, 40] as const;
const THROTTLE = /Throttl|RequestLimitExceeded|Rate exceeded|ProvisionedThroughputExceeded|TooManyRequests/i;

export interface ScaleFigure {
  name: string;
  value: number | null;
  unit: string;
  target: number | null;
  command: string;
  detail?: Record<string, unknown>;
  met?: boolean;
  error?: string;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The mandatory waits of one small fleet's rollout, as bench/rollout.ts counts them, with boot on. */
export function oneRolloutMinimum(batches: number): number {
  return batches * (BOOT_SECONDS + WARMUP_SECONDS) + BAKE_SECONDS;
}

async function allGroups(runtime: LocalRuntime): Promise<AutoScalingGroup[]> {
  const clients = worldClients({ endpoint: runtime.endpoint, region: REGION });
  const groups: AutoScalingGroup[] = [];
  for await (const page of paginateDescribeAutoScalingGroups(
    { client: clients.autoScaling, pageSize: 100 },
    {},
  ))
    groups.push(...(page.AutoScalingGroups ?? []));
  return groups;
}

async function imagesOf(runtime: LocalRuntime, ids: string[]): Promise<Map<string, string>> {
  const clients = worldClients({ endpoint: runtime.endpoint, region: REGION });
  const images = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 100) {
    let token: string | undefined;
    do {
      const page = await clients.ec2.send(
        new DescribeInstancesCommand({ InstanceIds: ids.slice(i, i + 100), NextToken: token }),
      );
      for (const r of page.Reservations ?? [])
        for (const inst of r.Instances ?? []) images.set(inst.InstanceId!, inst.ImageId!);
      token = page.NextToken;
    } while (token);
  }
  return images;
}

interface ScaleRun {
  maxConcurrent: number;
  fleets: number;
}

export async function measureScale(
  run: ScaleRun,
  progress: (line: string) => void = () => undefined,
): Promise<ScaleFigure[]> {
  const { maxConcurrent: k, fleets } = run;
  const setupStarted = performance.now();
  const runtime = await startLocalRuntime({
    timeScale: RUN_TIME_SCALE,
    fireSchedules: false,
    log: silentLogger,
    region: REGION,
    stackProps: { controlPlane: { maxConcurrentRollouts: k } },
    // The buckets go on once the fleets are built (the world's own set-up is not Phoenix's load).
    realism: { bootSeconds: BOOT_SECONDS, targetHealthChecks: true },
  });
  const outcomes = await listenToOutcomes({
    endpoint: runtime.endpoint,
    region: REGION,
    eventBusName: runtime.resources.eventBusName!,
    name: 'scale-bench-outcomes',
  });
  try {
    const world = new World({ endpoint: runtime.endpoint, region: REGION });
    const names = Array.from({ length: fleets }, (_, i) => `s${String(i).padStart(3, '0')}`);
    const imageA = await world.registerImage('scale-a', CHANNEL);
    progress(`scale bench (K=${k}): building ${fleets} fleets of ${SIZE}`);
    for (let i = 0; i < names.length; i += 20)
      await Promise.all(
        names.slice(i, i + 20).map((fleet) =>
          world.createFleet({
            fleet,
            imageId: imageA,
            size: SIZE,
            channel: CHANNEL,
            tags: {
              'phoenix:warmup-seconds': String(WARMUP_SECONDS),
              'phoenix:bake-seconds': String(BAKE_SECONDS),
            },
          }),
        ),
      );
    // Booted before the publication (boot × time scale of real time).
    await sleep(BOOT_SECONDS * RUN_TIME_SCALE * 1000 + 200);
    const imageB = await world.registerImage('scale-b', CHANNEL);
    const fleetSet = new Set(names);
    const ends = new Map<string, ExecutionRecord>();
    const allEnded = new Promise<void>((resolve) => {
      const off = runtime.stepFunctions.onExecutionEnd((record) => {
        if (record.stateMachineArn !== runtime.resources.stateMachineArn) return;
        const fleet = (JSON.parse(record.input) as { fleet?: string }).fleet;
        if (fleet === undefined || !fleetSet.has(fleet)) return;
        ends.set(fleet, record);
        if (ends.size === fleetSet.size) {
          off();
          resolve();
        }
      });
    });
    await world.configureRealism({ throttling: true });
    await world.apiCalls({ reset: true });
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    progress(`scale bench (K=${k}): publishing (set-up ${round(setupSeconds, 1)} s)`);
    const published = Date.now();
    await world.publishImage(runtime.resources.eventBusName!, imageB);
    // Bounded: 5 × the ideal (real), at least 12 minutes (the emulator is the bottleneck here).
    const idealReal = Math.ceil(fleets / k) * oneRolloutMinimum(SIZE) * RUN_TIME_SCALE * 1000;
    const deadline = Math.max(5 * idealReal, 720_000);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      allEnded.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), deadline))),
    ]);
    clearTimeout(timer);
    if (timedOut)
      progress(`scale bench (K=${k}): ${ends.size} of ${fleets} rollouts ended within ${deadline} ms`);
    const lastEnd = Math.max(...[...ends.values()].map((r) => r.stopDate?.getTime() ?? 0), published);
    const calls: ApiCalls = await world.apiCalls();
    await world.configureRealism({ throttling: false });
    // Let the last report steps' outcomes arrive.
    await sleep(1500);

    // ---- the end state ---------------------------------------------------------------------------
    const groups = (await allGroups(runtime)).filter((g) =>
      g.Tags?.some((t) => t.Key === 'phoenix:fleet' && fleetSet.has(t.Value ?? '')),
    );
    const instanceIds = groups.flatMap((g) => (g.Instances ?? []).map((i) => i.InstanceId!));
    const images = await imagesOf(runtime, instanceIds);
    const onNew: string[] = [];
    const behind: Array<{ fleet: string; images: string[]; instances: number }> = [];
    for (const g of groups) {
      const fleet = g.Tags!.find((t) => t.Key === 'phoenix:fleet')!.Value!;
      const imgs = (g.Instances ?? []).map((i) => images.get(i.InstanceId!) ?? '?');
      if (imgs.length === SIZE && imgs.every((img) => img === imageB)) onNew.push(fleet);
      else behind.push({ fleet, images: imgs, instances: imgs.length });
    }
    const missingGroups = names.filter(
      (n) => !groups.some((g) => g.Tags?.some((t) => t.Key === 'phoenix:fleet' && t.Value === n)),
    );

    // Throttles that escaped: an outcome's reason or error, or an execution's output or cause.
    const escaped: Array<{ where: string; fleet?: unknown; text: string }> = [];
    const byType: Record<string, number> = {};
    for (const e of outcomes.received as OutcomeEvent[]) {
      if (!fleetSet.has(String(e.detail['fleet']))) continue;
      byType[e.detailType] = (byType[e.detailType] ?? 0) + 1;
      const text = [e.detail['reason'], e.detail['error'], e.detail['cause']]
        .filter((v) => v !== undefined)
        .map(String)
        .join(' ');
      if (THROTTLE.test(text))
        escaped.push({ where: e.detailType, fleet: e.detail['fleet'], text: text.slice(0, 300) });
    }
    const statuses: Record<string, number> = {};
    const outputs: Record<string, number> = {};
    for (const [fleet, r] of ends) {
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      const out = JSON.parse(r.output ?? '{}') as { outcome?: string };
      const key = out.outcome ?? (r.status === 'SUCCEEDED' ? 'RolloutSucceeded' : r.status);
      outputs[key] = (outputs[key] ?? 0) + 1;
      const text = `${r.output ?? ''} ${r.error ?? ''} ${r.cause ?? ''}`;
      if (THROTTLE.test(text) && r.status !== 'SUCCEEDED')
        escaped.push({ where: `execution ${r.status}`, fleet, text: text.slice(0, 300) });
    }

    // In flight: from the lock (the first ValidateImage entered) to the end; and one rollout's length.
    const spans: Array<[number, number]> = [];
    const rolloutSpans: RolloutSpan[] = [];
    const durations: number[] = [];
    const queuedFor: number[] = [];
    let batches = SIZE;
    for (const r of ends.values()) {
      const entered = r.events.find(
        (e) =>
          e.type === 'TaskStateEntered' &&
          (e['stateEnteredEventDetails'] as { name?: string } | undefined)?.name === 'ValidateImage',
      );
      if (entered === undefined || r.stopDate === undefined) continue;
      const from = entered['timestamp'].getTime();
      // The slot goes back during the commit (or the report of another outcome): the span ends
      // when that step is entered, and starts after the lock step that took it: inside the hold.
      const released = r.events.find(
        (e) =>
          e.type === 'TaskStateEntered' &&
          /^(CommitRollout|Report)/.test(
            (e['stateEnteredEventDetails'] as { name?: string } | undefined)?.name ?? '',
          ),
      );
      spans.push([from, released ? released['timestamp'].getTime() : r.stopDate.getTime()]);
      rolloutSpans.push({
        start: r.startDate.getTime(),
        lock: from,
        release: released ? released['timestamp'].getTime() : r.stopDate.getTime(),
        end: r.stopDate.getTime(),
        waits: waitSpans(runtime, r),
      });
      durations.push((r.stopDate.getTime() - from) / 1000 / RUN_TIME_SCALE);
      queuedFor.push((from - r.startDate.getTime()) / 1000 / RUN_TIME_SCALE);
      batches = r.events.filter(
        (e) =>
          e.type === 'TaskStateEntered' &&
          (e['stateEnteredEventDetails'] as { name?: string } | undefined)?.name === 'LaunchBatch',
      ).length;
    }
    const points = spans.flatMap(([a, b]) => [
      [a, 1],
      [b, -1],
    ]);
    points.sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
    let inFlight = 0;
    let maxInFlight = 0;
    for (const [, d] of points) maxInFlight = Math.max(maxInFlight, (inFlight += d!));

    const table = new DynamoDBClient({
      region: REGION,
      endpoint: runtime.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const slotsItem = (
      await table.send(
        new GetItemCommand({
          TableName: runtime.resources.tableName!,
          Key: { pk: { S: ROLLOUT_SLOTS_KEY } },
          ConsistentRead: true,
        }),
      )
    ).Item;
    const slotsHeld = Object.keys(slotsItem?.['slots']?.M ?? {}).length;
    const inFlightCounter = Number(slotsItem?.['inFlight']?.N ?? 0);

    // Peak rates against the buckets.
    const apis: Record<string, unknown> = {};
    let worst = 0;
    let worstApi = '';
    let throttledTotal = 0;
    let answeredTotal = 0;
    for (const [api, c] of Object.entries(calls)) {
      throttledTotal += c.throttled;
      answeredTotal += c.answered;
      if (c.bucket === undefined) continue;
      const ratio = Math.max(
        c.bucket.peakInWindow / c.bucket.allowedInWindow,
        c.peakPerSecond / c.bucket.allowedPerSecond,
      );
      if (ratio > worst) {
        worst = ratio;
        worstApi = api;
      }
      apis[api] = {
        answered: c.answered,
        throttled: c.throttled,
        peakPerSecond: c.peakPerSecond,
        allowedPerSecond: c.bucket.allowedPerSecond,
        peakInWindow: c.bucket.peakInWindow,
        windowSeconds: c.bucket.windowSeconds,
        allowedInWindow: c.bucket.allowedInWindow,
        bucket: `${c.bucket.key} ${c.bucket.burst}/${c.bucket.rate}`,
        averagePerSecond: round(c.answered / Math.max(0.001, (lastEnd - published) / 1000), 2),
      };
    }
    const unbucketed = Object.fromEntries(
      Object.entries(calls)
        .filter(([, c]) => c.bucket === undefined)
        .map(([api, c]) => [api, { answered: c.answered, peakPerSecond: c.peakPerSecond }]),
    );

    const minimum = oneRolloutMinimum(batches);
    const waves = Math.ceil(fleets / k);
    const ideal = waves * minimum;
    const wallSim = (lastEnd - published) / 1000 / RUN_TIME_SCALE;
    const projected = projectSchedule(rolloutSpans, k, published, RUN_TIME_SCALE);
    const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
    const label = `K=${k}`;
    const command = `${COMMAND} --max-concurrent ${k} --fleets ${fleets}${RUN_TIME_SCALE !== SCALE_TIME_SCALE ? ` --time-scale ${RUN_TIME_SCALE}` : ''} (local runtime, time scale ${RUN_TIME_SCALE}; ${fleets} fleets of ${SIZE}, rolling, one channel; boot ${BOOT_SECONDS} s, warm-up ${WARMUP_SECONDS} s, bake ${BAKE_SECONDS} s; throttling: true)`;
    const complete = !timedOut && ends.size === fleets;
    const runDetail = {
      maxConcurrentRollouts: k,
      fleets,
      ended: ends.size,
      timedOut,
      executionStatuses: statuses,
      executionOutcomes: outputs,
      outcomes: byType,
      timeScale: RUN_TIME_SCALE,
      setupRealSeconds: round(setupSeconds, 1),
      wallRealSeconds: round((lastEnd - published) / 1000, 1),
    };
    return [
      {
        name: `scale (${label}): fleets left behind (of ${fleets}, on the new image at the end)`,
        value: fleets - onNew.length,
        unit: 'fleets',
        target: 0,
        met: complete,
        command,
        detail: {
          ...runDetail,
          onNewImage: onNew.length,
          behind: behind.slice(0, 20),
          missingGroups: missingGroups.slice(0, 20),
        },
      },
      {
        name: `scale (${label}): throttling errors escaped into an outcome`,
        value: escaped.length,
        unit: 'errors',
        target: 0,
        met: complete,
        command,
        detail: {
          escaped: escaped.slice(0, 20),
          throttledCalls: throttledTotal,
          answeredCalls: answeredTotal,
          note: 'throttled calls were answered with the API’s throttling error and retried (SDK, then the workflow’s transient-error retry); an escape is one that reached an outcome’s reason or error',
        },
      },
      {
        name: `scale (${label}): peak call rate per API ÷ its bucket (worst API)`,
        value: round(worst),
        unit: '×',
        target: 1,
        met: complete,
        command: `${command}; GET /phoenix-world/calls: the most calls answered in any refill period (burst ÷ rate s) ÷ (burst + rate × period), and in any 1 s ÷ (burst + rate)`,
        detail: { worstApi, apis, unbucketed },
      },
      {
        name: `scale (${label}): wall time ÷ ideal (⌈fleets ÷ K⌉ × one rollout's minimum)`,
        value: round(wallSim / ideal),
        unit: '×',
        target: IDEAL_FACTOR,
        met: complete,
        command,
        detail: {
          wallSimulatedSeconds: round(wallSim, 1),
          idealSeconds: ideal,
          minimumSeconds: ideal,
          overheadSeconds: round(wallSim - ideal, 1),
          waves,
          oneRolloutMinimumSeconds: minimum,
          minimumCounts: `${batches} batches × (boot ${BOOT_SECONDS} s + warm-up ${WARMUP_SECONDS} s) + bake ${BAKE_SECONDS} s`,
          meanRolloutSeconds: round(mean(durations), 1),
          meanRolloutRatio: round(mean(durations) / minimum),
          maxRolloutSeconds: round(Math.max(0, ...durations), 1),
          meanQueuedSeconds: round(mean(queuedFor), 1),
          maxQueuedSeconds: round(Math.max(0, ...queuedFor), 1),
          ...runDetail,
          note: 'simulated seconds = real ÷ time scale, publication → the last rollout’s end; a rollout = its lock taken → its end; queued = its start → its lock',
        },
      },
      {
        // The same run at time scale 1 (bench/projection.ts): the Wait states at full length, the
        // rest (Lambda steps, the emulator) at the real time it took, replayed on K slots.
        name: `scale (${label}): wall time projected to time scale 1 ÷ ideal`,
        value: round(projected.wallSeconds / ideal),
        unit: '×',
        target: IDEAL_FACTOR,
        met: complete,
        command: `${command}; bench/projection.ts: each rollout's Wait states at full length + the real time outside them, replayed on K slots in the order the run took them`,
        detail: {
          projectedWallSeconds: round(projected.wallSeconds, 1),
          idealSeconds: ideal,
          overheadSeconds: round(projected.wallSeconds - ideal, 1),
          waves,
          meanProjectedRolloutSeconds: round(projected.meanRolloutSeconds, 1),
          meanProjectedRolloutRatio: round(projected.meanRolloutSeconds / minimum),
          meanHandOffSeconds: round(projected.meanHandOffSeconds, 2),
          note: 'the simulated wall time above divides the Lambda steps and the emulator (real time, not scaled) by the time scale too; this figure counts them once, as they would run at time scale 1 (measured under 1 ÷ time scale the load per real second: conservative)',
        },
      },
      {
        // The fan-out's own scheduling, apart from how long one rollout takes here: the same wall
        // time against ⌈fleets ÷ K⌉ rollouts of the measured mean length (slot hand-off, queue
        // wake-ups, stragglers). Locally a rollout takes 2–8× its minimum (its Lambda steps, real
        // time, count 1 ÷ time scale in simulated seconds on 2 shared cores), which the figure
        // above carries in full.
        name: `scale (${label}): wall time ÷ (⌈fleets ÷ K⌉ × the mean rollout measured)`,
        value: round(wallSim / (waves * Math.max(1, mean(durations)))),
        unit: '×',
        target: IDEAL_FACTOR,
        met: complete,
        command,
        detail: {
          wallSimulatedSeconds: round(wallSim, 1),
          waves,
          meanRolloutSeconds: round(mean(durations), 1),
          note: 'simulated seconds; a rollout = its lock taken → its end',
        },
      },
      {
        name: `scale (${label}): rollout slots held at the end`,
        value: slotsHeld,
        unit: 'slots',
        target: 0,
        met: complete && inFlightCounter === 0 && maxInFlight <= k,
        command,
        detail: { inFlightCounter, maxInFlightSeen: maxInFlight, limit: k },
      },
    ];
  } finally {
    await outcomes.stop().catch(() => undefined);
    await runtime.stop();
  }
}

// ---- the projection's inputs ---------------------------------------------------------------------

interface StateDef {
  readonly Type?: string;
  readonly Seconds?: number;
  readonly SecondsPath?: string;
  readonly States?: Record<string, StateDef>;
  readonly Iterator?: { States?: Record<string, StateDef> };
  readonly ItemProcessor?: { States?: Record<string, StateDef> };
  readonly Branches?: { States?: Record<string, StateDef> }[];
}

/** Every state of a definition by name, nested ones (Map, Parallel) included. */
function allStates(states: Record<string, StateDef> | undefined, into = new Map<string, StateDef>()) {
  for (const [name, state] of Object.entries(states ?? {})) {
    into.set(name, state);
    allStates(state.Iterator?.States, into);
    allStates(state.ItemProcessor?.States, into);
    for (const branch of state.Branches ?? []) allStates(branch.States, into);
  }
  return into;
}

const definitions = new Map<string, Map<string, StateDef>>();

/** The Wait states an execution entered: real interval, nominal simulated seconds. */
function waitSpans(runtime: LocalRuntime, record: ExecutionRecord): WaitSpan[] {
  let states = definitions.get(record.stateMachineArn);
  if (states === undefined) {
    const machine = runtime.model.stateMachines.find((m) => m.arn === record.stateMachineArn);
    states = allStates(
      machine ? (JSON.parse(machine.definitionString) as { States?: Record<string, StateDef> }).States : {},
    );
    definitions.set(record.stateMachineArn, states);
  }
  const waits: WaitSpan[] = [];
  for (const [i, event] of record.events.entries()) {
    // By the synthesized definition's types: the local runtime runs a scaled Wait as another state
    // type, so the history's event type does not say it.
    if (!event.type.endsWith('StateEntered')) continue;
    const details = event['stateEnteredEventDetails'] as { name?: string; input?: string } | undefined;
    const state = states.get(details?.name ?? '');
    if (state?.Type !== 'Wait') continue;
    const exited = record.events
      .slice(i + 1)
      .find(
        (e) =>
          e.type.endsWith('StateExited') &&
          (e['stateExitedEventDetails'] as { name?: string } | undefined)?.name === details?.name,
      );
    const entered = event.timestamp.getTime();
    const end = exited?.timestamp.getTime() ?? record.stopDate?.getTime() ?? entered;
    let seconds = typeof state?.Seconds === 'number' ? state.Seconds : undefined;
    if (seconds === undefined && typeof state?.SecondsPath === 'string' && details?.input !== undefined) {
      const v = valueAt(state.SecondsPath, JSON.parse(details.input));
      if (typeof v === 'number') seconds = v;
    }
    // Unknown (a timestamp wait, an aborted one): what it took, at the time scale.
    waits.push({ entered, exited: end, seconds: seconds ?? (end - entered) / 1000 / RUN_TIME_SCALE });
  }
  return waits;
}

// ---- bench/run.ts: one child per K ---------------------------------------------------------------

/** Run `tsx bench/scale.ts --json --max-concurrent K` for each K, one after another; record the figures. */
export async function benchScale(
  record: (figure: ScaleFigure) => unknown,
  options: {
    concurrency?: readonly number[];
    fleets?: number;
    timeScale?: number;
    progress?: (line: string) => void;
  } = {},
): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
  for (const k of options.concurrency ?? SCALE_CONCURRENCY) {
    options.progress?.(`scale: K=${k}`);
    const args = [path.join(__dirname, 'scale.ts'), '--json', '--max-concurrent', String(k)];
    if (options.fleets !== undefined) args.push('--fleets', String(options.fleets));
    if (options.timeScale !== undefined) args.push('--time-scale', String(options.timeScale));
    // Bounded: 10 × the ideal of this K (real), at least 10 minutes.
    const idealRealMs =
      Math.ceil((options.fleets ?? DEFAULT_FLEETS) / k) *
      oneRolloutMinimum(SIZE) *
      (options.timeScale ?? SCALE_TIME_SCALE) *
      1000;
    const child = spawn(tsx, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      process.stderr.write(chunk);
    });
    const stopChild = () => child.kill('SIGTERM');
    process.once('exit', stopChild);
    const timer = setTimeout(
      () => {
        stopChild();
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      },
      Math.max(600_000, 10 * idealRealMs),
    );
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    process.removeListener('exit', stopChild);
    try {
      for (const figure of (JSON.parse(stdout) as { figures: ScaleFigure[] }).figures) record(figure);
    } catch {
      record({
        name: `scale (K=${k})`,
        value: null,
        unit: 's',
        target: null,
        command: `${COMMAND} --json --max-concurrent ${k}`,
        error: `exited ${String(code)} without figures: ${stderr.trim().split('\n').slice(-5).join(' | ')}`,
      });
    }
  }
}

function argValue(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const jsonOnly = process.argv.slice(2).includes('--json');
  const k = Number(argValue('--max-concurrent') ?? 10);
  const fleets = Number(argValue('--fleets') ?? DEFAULT_FLEETS);
  if (!Number.isInteger(k) || k < 1 || !Number.isInteger(fleets) || fleets < 1)
    throw new Error('--max-concurrent and --fleets take positive integers');
  if (!(RUN_TIME_SCALE > 0 && RUN_TIME_SCALE <= 1)) throw new Error('--time-scale takes a number in (0, 1]');
  const started = performance.now();
  let figures: ScaleFigure[];
  try {
    figures = await measureScale({ maxConcurrent: k, fleets }, (line) => process.stderr.write(`${line}\n`));
  } catch (error) {
    figures = [
      {
        name: `scale (K=${k})`,
        value: null,
        unit: 's',
        target: null,
        command: COMMAND,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      },
    ];
  }
  figures.push({
    name: `scale (K=${k}): bench wall time (real)`,
    value: round((performance.now() - started) / 1000, 1),
    unit: 's',
    target: null,
    command: `${COMMAND} --max-concurrent ${k} --fleets ${fleets} (runtime start, fleets, rollouts, checks, stop)`,
  });
  process.stdout.write(`${JSON.stringify({ timeScale: RUN_TIME_SCALE, figures }, null, 2)}\n`);
  if (!jsonOnly)
    for (const f of figures)
      process.stdout.write(
        `${f.name}: ${f.value ?? 'ERROR'} ${f.unit} (target ${f.target ?? '-'})${f.error ? ` ${f.error}` : ''}\n`,
      );
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`scale bench: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
