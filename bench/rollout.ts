/**
 * Rollout benchmarks (figures 9–11 of bench/run.ts), in the local runtime: its own emulator (moto),
 * the synthesized control plane, the real handlers, time scale TIME_SCALE. Three rollouts, each
 * started as a user would start one (the image tagged into the fleet's channel, then `PublishImage`
 * on the Phoenix bus), one after the other:
 *
 *   - rolling, a fleet of 20 (default max-surge 25 %: 4 batches of 5),
 *   - rolling, a fleet of 8 (same 4 batches, of 2): describe calls must follow batches, not instances,
 *   - blue-green, a fleet of 20,
 *   - rolling, a fleet of 8 with boot time and target health checks on (the realism layer: boot
 *     BOOT_SECONDS, then `initial` for the target group's interval × healthy threshold): the floor
 *     with boot time on, rollout wall time ÷ (batches × (boot + warm-up) + bake), target ≤ 1.05,
 *
 * every fleet behind one target group, gated by one CloudWatch alarm (OK), with
 * `phoenix:warmup-seconds=WARMUP_SECONDS` and `phoenix:bake-seconds=BAKE_SECONDS`.
 *
 *   9. Wall time: the Rollout execution's start → stop, in simulated seconds (real / time scale),
 *      against the minimum its mandatory waits allow. moto boots instances at once and reports
 *      targets healthy and deregistered at once (boot = target-group health = drain = 0), so:
 *      rolling minimum = batches × warm-up + bake; blue-green minimum = warm-up + bake (no canary).
 *      Target ≤ 1.05 × minimum. The detail splits the wall time into the Wait states the execution
 *      passed through (simulated seconds, by state) and the time inside the other states (real
 *      milliseconds: Lambda steps, which the time scale does not shrink, so in simulated seconds
 *      they weigh 1 / TIME_SCALE times more than in AWS). A second figure projects the run to time
 *      scale 1: the Wait states entered at full length + the real time outside them.
 *  10. AWS calls: every request the handlers' SDK clients send, counted by the call-counter
 *      middleware (lambdas/aws/call-counter.ts) on the clients of lambdas/aws/clients.ts and on the
 *      CloudWatch client of lambdas/aws/alarms.ts, attributed to the invocation that sent it (the
 *      local Lambda host's `invoke` is wrapped; the handlers are not changed; the host `require`s
 *      the handler modules under tsx, so they share this module's client singletons). Split into
 *      mutating (Create*, Update*, Set*, Terminate*, Delete*, Attach*, Detach*, Suspend*, Resume*,
 *      Put*, Start*, …) and read (Describe*, Get*, List*, Query, Scan) calls, and into the fleet's
 *      APIs (EC2, Auto Scaling, ELB, CloudWatch) and Phoenix's own bookkeeping (DynamoDB,
 *      EventBridge). Per replaced instance (mutating, target 3) and per batch (read).
 *  11. State transitions: the states the execution entered (its history's *StateEntered events),
 *      per replaced instance, and the history events AWS would record for it (a Task state 5, any
 *      other 2, a retry 3 more, plus ExecutionStarted and the end event; types from the
 *      synthesized definition, as in test/workflows/rollout-history.test.ts).
 *
 *   npx tsx bench/rollout.ts           the figures as JSON, then as a table, on stdout (progress
 *                                      on stderr)
 *   npx tsx bench/rollout.ts --json    only the JSON (bench/run.ts runs it so, in a child process:
 *                                      the handlers' SDK clients are process-wide singletons bound
 *                                      to the first emulator they reached)
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AttachLoadBalancerTargetGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { Tags } from '../lambdas/domain/contract';
import type { LocalRuntime } from '../local/runtime';
import type { ExecutionRecord } from '../local/stepfunctions';
import { World, worldClients } from '../local/world';
import {
  addCounts as add,
  countInvocations,
  type Counts,
  type Invocation,
  REGION,
  startBenchRuntime,
  TIME_SCALE,
  valueAt,
} from './support';

export { TIME_SCALE };

const WARMUP_SECONDS = 120;
const BAKE_SECONDS = 60;
/**
 * The boot-time scenario (the floors with boot time on, issue 11 §4): the realism layer boots an
 * instance in BOOT_SECONDS (Pending, then InService) and keeps its target `initial` for the target
 * group's health-check interval × healthy threshold after that (BOOT_HEALTH_INTERVAL ×
 * BOOT_HEALTHY_THRESHOLD, AWS's minimum interval is 5 s, its default 30 s × 5).
 */
const BOOT_SECONDS = 60;
const BOOT_HEALTH_INTERVAL = 10;
const BOOT_HEALTHY_THRESHOLD = 2;
const BOOT_HEALTH_SECONDS = BOOT_HEALTH_INTERVAL * BOOT_HEALTHY_THRESHOLD;
/** The mutating calls per replaced instance the design allows. */
const MUTATING_TARGET = 3;
/** Wall time target: this × the minimum. */
const WALL_FACTOR = 1.05;
const ROLLOUT_TIMEOUT_MS = 180_000;
/** bench/run.ts: the child's whole run. */
const CHILD_TIMEOUT_MS = 600_000;
const COMMAND = 'npx tsx bench/rollout.ts';

// ---- figures -----------------------------------------------------------------------------------

export interface RolloutFigure {
  name: string;
  value: number | null;
  unit: string;
  target: number | null;
  command: string;
  detail?: Record<string, unknown>;
  met?: boolean;
  error?: string;
}

export type Record_ = (figure: RolloutFigure) => unknown;

// ---- counting ----------------------------------------------------------------------------------

const MUTATING =
  /^(Create|Update|Set|Terminate|Delete|Attach|Detach|Suspend|Resume|Put|Start|Stop|Send|Register|Deregister|Modify|Run|Complete|Record|Enter|Exit|Batch|Transact|Tag|Untag|Add|Remove)/;
const READ = /^(Describe|Get|List|Query|Scan)/;
/** Phoenix's own bookkeeping (DynamoDB, EventBridge, Step Functions), not the fleet's APIs. */
const BOOKKEEPING =
  /^(GetItem|PutItem|UpdateItem|DeleteItem|Query|Scan|BatchGetItem|BatchWriteItem|TransactWriteItems|TransactGetItems|PutEvents|StartExecution|DescribeExecution|ListExecutions)$/;

function classify(calls: Counts) {
  const out = { mutating: 0, read: 0, other: 0, fleetMutating: 0, fleetRead: 0, bookkeeping: 0 };
  for (const [op, n] of Object.entries(calls)) {
    const kind = MUTATING.test(op) ? 'mutating' : READ.test(op) ? 'read' : 'other';
    out[kind] += n;
    if (BOOKKEEPING.test(op)) out.bookkeeping += n;
    else if (kind === 'mutating') out.fleetMutating += n;
    else if (kind === 'read') out.fleetRead += n;
  }
  return out;
}

// ---- history -----------------------------------------------------------------------------------

interface StateDef {
  readonly Type?: string;
  readonly Seconds?: number;
  readonly SecondsPath?: string;
}

function definitionStates(runtime: LocalRuntime, arn: string): Map<string, StateDef> {
  const machine = runtime.model.stateMachines.find((m) => m.arn === arn)!;
  const definition = JSON.parse(machine.definitionString) as { States: Record<string, StateDef> };
  return new Map(Object.entries(definition.States));
}

interface HistoryFigures {
  statesEntered: number;
  entered: Record<string, number>;
  awsHistoryEvents: number;
  /** Simulated seconds spent in Wait states, by state. */
  waits: Record<string, number>;
  waitSeconds: number;
}

function readHistory(runtime: LocalRuntime, record: ExecutionRecord): HistoryFigures {
  const states = definitionStates(runtime, record.stateMachineArn);
  const entered: Record<string, number> = {};
  const waits: Record<string, number> = {};
  let statesEntered = 0;
  let awsHistoryEvents = 2;
  let waitSeconds = 0;
  for (const event of record.events) {
    if (event.type.endsWith('StateEntered')) {
      const details = event['stateEnteredEventDetails'] as { name?: string; input?: string } | undefined;
      const name = details?.name ?? '?';
      const state = states.get(name);
      statesEntered++;
      entered[name] = (entered[name] ?? 0) + 1;
      awsHistoryEvents += state?.Type === 'Task' ? 5 : 2;
      if (state?.Type === 'Wait') {
        let seconds = typeof state.Seconds === 'number' ? state.Seconds : 0;
        if (typeof state.SecondsPath === 'string' && details?.input !== undefined) {
          const v = valueAt(state.SecondsPath, JSON.parse(details.input));
          seconds = typeof v === 'number' ? v : 0;
        }
        waits[name] = (waits[name] ?? 0) + seconds;
        waitSeconds += seconds;
      }
    } else if (event.type === 'StateRetried') {
      awsHistoryEvents += 3;
    }
  }
  return { statesEntered, entered, awsHistoryEvents, waits, waitSeconds };
}

// ---- scenarios ---------------------------------------------------------------------------------

interface Scenario {
  readonly key: string;
  readonly label: string;
  readonly fleet: string;
  readonly size: number;
  readonly strategy: 'rolling' | 'blue-green';
  /** Boot time and target health checks on (the realism layer), else moto's instant instances. */
  readonly boot?: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { key: 'rolling20', label: 'rolling, 20 instances', fleet: 'roll20', size: 20, strategy: 'rolling' },
  { key: 'rolling8', label: 'rolling, 8 instances', fleet: 'roll8', size: 8, strategy: 'rolling' },
  { key: 'bluegreen20', label: 'blue-green, 20 instances', fleet: 'bg20', size: 20, strategy: 'blue-green' },
  {
    key: 'rolling8boot',
    label: `rolling, 8 instances, boot ${BOOT_SECONDS} s + target health ${BOOT_HEALTH_SECONDS} s`,
    fleet: 'roll8boot',
    size: 8,
    strategy: 'rolling',
    boot: true,
  },
];

interface Measured {
  scenario: Scenario;
  status: string;
  wallSimSeconds: number;
  wallRealMs: number;
  minimumSeconds: number;
  minimumCounts: string;
  batches: number;
  replaced: number;
  history: HistoryFigures;
  calls: Counts;
  callsByStep: Record<string, Counts>;
  intakeCalls: Counts;
  stepMs: number;
  invocations: number;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

async function roll(
  runtime: LocalRuntime,
  world: World,
  log: Invocation[],
  scenario: Scenario,
): Promise<Measured> {
  const { fleet, size } = scenario;
  const bootSeconds = scenario.boot === true ? BOOT_SECONDS : 0;
  const healthSeconds = scenario.boot === true ? BOOT_HEALTH_SECONDS : 0;
  await world.configureRealism({
    timeScale: TIME_SCALE,
    bootSeconds,
    targetHealthChecks: scenario.boot === true,
  });
  const clients = worldClients({ endpoint: runtime.endpoint, region: REGION });
  const elb = new ElasticLoadBalancingV2Client({
    region: REGION,
    endpoint: runtime.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const alarm = `${fleet}-5xx`;
  await world.createAlarm(alarm);
  const imageA = await world.registerImage(`${fleet}-a`, fleet);
  const groupName = await world.createFleet({
    fleet,
    imageId: imageA,
    size,
    tags: {
      'phoenix:warmup-seconds': String(WARMUP_SECONDS),
      'phoenix:bake-seconds': String(BAKE_SECONDS),
      'phoenix:alarms': alarm,
      ...(scenario.strategy === 'blue-green' ? { 'phoenix:strategy': 'blue-green' } : {}),
    },
  });
  const vpcId = (await clients.ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
  const tg = (
    await elb.send(
      new CreateTargetGroupCommand({
        Name: `${fleet}-tg`,
        Protocol: 'HTTP',
        Port: 80,
        VpcId: vpcId,
        Tags: [{ Key: Tags.fleet, Value: fleet }],
        ...(scenario.boot === true
          ? {
              HealthCheckIntervalSeconds: BOOT_HEALTH_INTERVAL,
              HealthyThresholdCount: BOOT_HEALTHY_THRESHOLD,
            }
          : {}),
      }),
    )
  ).TargetGroups![0]!.TargetGroupArn!;
  await clients.autoScaling.send(
    new AttachLoadBalancerTargetGroupsCommand({ AutoScalingGroupName: groupName, TargetGroupARNs: [tg] }),
  );
  // The fleet's own instances boot and pass their health checks before the publication.
  if (bootSeconds + healthSeconds > 0)
    await new Promise((resolve) =>
      setTimeout(resolve, (bootSeconds + healthSeconds) * TIME_SCALE * 1000 + 500),
    );
  const imageB = await world.registerImage(`${fleet}-b`, fleet);

  const ended = new Promise<ExecutionRecord>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no rollout of ${fleet} ended within ${ROLLOUT_TIMEOUT_MS} ms`));
    }, ROLLOUT_TIMEOUT_MS);
    const off = runtime.stepFunctions.onExecutionEnd((record) => {
      if ((JSON.parse(record.input) as { fleet?: string }).fleet === fleet) {
        clearTimeout(timer);
        off();
        resolve(record);
      }
    });
  });
  const first = log.length;
  await world.publishImage(runtime.resources.eventBusName!, imageB);
  const record = await ended;
  // The report steps after the end are in the log already (the end follows the last task).
  const mine = log.slice(first);
  const ofExecution = mine.filter((i) => i.execution === record.name);
  const calls: Counts = {};
  const callsByStep: Record<string, Counts> = {};
  for (const i of ofExecution) {
    add(calls, i.calls);
    add((callsByStep[i.step] ??= {}), i.calls);
  }
  const intakeCalls: Counts = {};
  for (const i of mine.filter((i) => i.execution === undefined)) add(intakeCalls, i.calls);

  const wallRealMs = record.stopDate!.getTime() - record.startDate.getTime();
  const history = readHistory(runtime, record);
  // Blue-green: green's capacity steps (1, or 2 with a canary) stand for batches.
  const batches =
    scenario.strategy === 'rolling'
      ? (history.entered['LaunchBatch'] ?? 0)
      : (history.entered['CreateGreenGroup'] ?? 0) + (history.entered['ScaleGreenGroup'] ?? 0);
  const output = JSON.parse(record.output ?? '{}') as { progress?: { replaced?: number } };
  const replaced = output.progress?.replaced ?? size;
  const ready = bootSeconds + healthSeconds;
  const minimumSeconds =
    scenario.strategy === 'rolling'
      ? batches * (ready + WARMUP_SECONDS) + BAKE_SECONDS
      : ready + WARMUP_SECONDS + BAKE_SECONDS;
  const minimumCounts =
    scenario.strategy === 'rolling'
      ? `${batches} batches × (boot ${bootSeconds} s + target-group health ${healthSeconds} s + warm-up ${WARMUP_SECONDS} s) + bake ${BAKE_SECONDS} s`
      : `boot ${bootSeconds} + warm-up ${WARMUP_SECONDS} s + target-group health ${healthSeconds} + bake ${BAKE_SECONDS} s + drain 0 (no canary)`;
  return {
    scenario,
    status: record.status,
    wallSimSeconds: wallRealMs / 1000 / TIME_SCALE,
    wallRealMs,
    minimumSeconds,
    minimumCounts,
    batches,
    replaced,
    history,
    calls,
    callsByStep,
    intakeCalls,
    stepMs: ofExecution.reduce((s, i) => s + i.ms, 0),
    invocations: ofExecution.length,
  };
}

function figuresOf(m: Measured, rolling8?: Measured): RolloutFigure[] {
  const { scenario } = m;
  const label = scenario.label;
  const command = `${COMMAND} (local runtime, time scale ${TIME_SCALE}; ${label}, warm-up ${WARMUP_SECONDS} s, bake ${BAKE_SECONDS} s, 1 target group, 1 gating alarm)`;
  const kinds = classify(m.calls);
  const succeeded = m.status === 'SUCCEEDED';
  const waitSim = m.history.waitSeconds;
  const pollWaits = Object.fromEntries(
    Object.entries(m.history.waits).filter(([name]) => !/^(WarmUp|Bake)/.test(name)),
  );
  const pollWaitSeconds = Object.values(pollWaits).reduce((a, b) => a + b, 0);
  const outsideRealMs = m.wallRealMs - waitSim * 1000 * TIME_SCALE;
  const projected = waitSim + outsideRealMs / 1000;
  const figures: RolloutFigure[] = [
    {
      name: `rollout (${label}): wall time, simulated`,
      value: round(m.wallSimSeconds, 1),
      unit: 's',
      target: round(WALL_FACTOR * m.minimumSeconds, 1),
      met: succeeded,
      command,
      detail: {
        status: m.status,
        minimumSeconds: m.minimumSeconds,
        overheadSeconds: round(m.wallSimSeconds - m.minimumSeconds, 1),
        minimumCounts: m.minimumCounts,
        ratioToMinimum: round(m.wallSimSeconds / m.minimumSeconds, 3),
        waitStatesSimulatedSeconds: m.history.waits,
        pollWaitsSimulatedSeconds: round(pollWaitSeconds, 1),
        outsideWaitsSimulatedSeconds: round(m.wallSimSeconds - waitSim, 1),
        outsideWaitsRealMs: Math.round(outsideRealMs),
        lambdaStepsRealMs: Math.round(m.stepMs),
        lambdaInvocations: m.invocations,
        projectedAwsSeconds: round(projected, 1),
        batches: m.batches,
        timeScale: TIME_SCALE,
        note: 'wall = Rollout execution start → stop, real / time scale. projectedAwsSeconds = the Wait states at full length + the time outside them unscaled (Lambda steps take as long locally as at time scale 1).',
      },
    },
    {
      name: `rollout (${label}): wall time projected to time scale 1`,
      value: round(projected, 1),
      unit: 's',
      target: round(WALL_FACTOR * m.minimumSeconds, 1),
      met: succeeded,
      command: `${command}; the Wait states entered at full length + the real time outside them`,
      detail: {
        minimumSeconds: m.minimumSeconds,
        overheadSeconds: round(projected - m.minimumSeconds, 1),
        ratioToMinimum: round(projected / m.minimumSeconds, 3),
        waitSeconds: waitSim,
        outsideWaitsRealMs: Math.round(outsideRealMs),
        note: 'the simulated wall time divides the Lambda steps (not scaled) by the time scale too; this figure does not, so it is what the same run would take at time scale 1 against moto',
      },
    },
    {
      name: `rollout (${label}): mutating AWS calls per replaced instance`,
      value: round(kinds.mutating / Math.max(1, m.replaced), 2),
      unit: 'calls',
      target: MUTATING_TARGET,
      met: succeeded,
      command: `${command}; call-counter middleware on the handlers' clients, the execution's steps`,
      detail: {
        replaced: m.replaced,
        mutating: kinds.mutating,
        fleetMutating: kinds.fleetMutating,
        fleetMutatingPerInstance: round(kinds.fleetMutating / Math.max(1, m.replaced), 2),
        read: kinds.read,
        bookkeeping: kinds.bookkeeping,
        calls: m.calls,
        callsByStep: m.callsByStep,
        intakeCalls: m.intakeCalls,
      },
    },
    {
      name: `rollout (${label}): read (describe) AWS calls per batch`,
      value: round(kinds.read / Math.max(1, m.batches), 1),
      unit: 'calls',
      target: null,
      command: `${command}; read = Describe*, Get*, List*, Query, Scan`,
      detail: {
        read: kinds.read,
        fleetRead: kinds.fleetRead,
        batches: m.batches,
        readPerReplacedInstance: round(kinds.read / Math.max(1, m.replaced), 2),
      },
    },
    {
      name: `rollout (${label}): states entered per replaced instance`,
      value: round(m.history.statesEntered / Math.max(1, m.replaced), 2),
      unit: 'states',
      target: null,
      command: `${command}; *StateEntered events of the execution's history`,
      detail: {
        statesEntered: m.history.statesEntered,
        replaced: m.replaced,
        entered: m.history.entered,
        awsHistoryEvents: m.history.awsHistoryEvents,
        awsHistoryEventsPerReplacedInstance: round(m.history.awsHistoryEvents / Math.max(1, m.replaced), 2),
        note: 'awsHistoryEvents: a Task state 5, any other 2, a retry 3, + ExecutionStarted and the end event',
      },
    },
  ];
  if (scenario.boot === true) {
    // The floor with boot time on (issue 11 §4), simulated (real ÷ time scale). The projection to
    // time scale 1 does not hold here: the boot runs in scaled time, partly while the (unscaled)
    // steps run, so "waits at full length + real time outside them" leaves part of the boot out.
    const ready = BOOT_SECONDS + BOOT_HEALTH_SECONDS;
    const poll = 15;
    // Paced checks (docs/rollouts.md#paced-checks): the boot is seen at a poll, then the target
    // group's health within half its health-check interval.
    const fast = Math.max(1, Math.ceil(BOOT_HEALTH_INTERVAL / 2));
    const bootSeen = Math.ceil(BOOT_SECONDS / poll) * poll;
    const healthSeen = bootSeen + Math.max(0, Math.ceil((ready - bootSeen) / fast) * fast);
    const quantized = m.batches * (healthSeen + WARMUP_SECONDS) + BAKE_SECONDS;
    figures.unshift({
      name: `floor with boot on: rollout wall time ÷ (batches × (boot + warm-up) + bake) (${label})`,
      value: round(m.wallSimSeconds / m.minimumSeconds, 3),
      unit: '×',
      target: WALL_FACTOR,
      met: succeeded,
      command: `${command}; simulated wall time ÷ the minimum`,
      detail: {
        minimumSeconds: m.minimumSeconds,
        minimumCounts: m.minimumCounts,
        wallSimulatedSeconds: round(m.wallSimSeconds, 1),
        waitStatesSimulatedSeconds: m.history.waits,
        waitSeconds: waitSim,
        outsideWaitsRealMs: Math.round(outsideRealMs),
        outsideWaitsSimulatedSeconds: round(m.wallSimSeconds - waitSim, 1),
        healthChecks: m.history.entered['CheckBatchHealth'] ?? 0,
        batches: m.batches,
        pollQuantizedMinimumSeconds: quantized,
        pollQuantizedRatio: round(quantized / m.minimumSeconds, 3),
        note: `the waits Phoenix itself adds: the batch health poll (every ${poll} s, the default rollout poll interval) sees the boot at the first check after it; then, its targets initial, the check is paced at half the health-check interval (${fast} s), so Phoenix's own floor is batches × (⌈boot ÷ poll⌉ × poll + ⌈(boot + health − that) ÷ ${fast}⌉ × ${fast} + warm-up) + bake = pollQuantizedMinimumSeconds (a check that lands on the instant of a change sees it one step later); the rest of the wall time beyond the waits is the Lambda steps, real ms × 1 ÷ time scale`,
      },
    });
  }
  if (rolling8 !== undefined) {
    const read20 = kinds.read;
    const read8 = classify(rolling8.calls).read;
    figures.push({
      name: 'rollout (rolling): read calls, 20 instances − 8 instances (both 4 batches)',
      value: read20 - read8,
      unit: 'calls',
      target: 0,
      met: succeeded && rolling8.status === 'SUCCEEDED' && m.batches === rolling8.batches,
      command: `${COMMAND}: rolling 20 vs rolling 8, default max-surge 25 % (4 batches of 5 / of 2)`,
      detail: {
        read20,
        read8,
        batches20: m.batches,
        batches8: rolling8.batches,
        checks20: m.history.entered['CheckBatchHealth'] ?? 0,
        checks8: rolling8.history.entered['CheckBatchHealth'] ?? 0,
        note: 'describe calls that follow batches, not instances: the same count for both (as long as both took as many health checks)',
      },
    });
  }
  return figures;
}

// ---- entry -------------------------------------------------------------------------------------

/** Start a local runtime, roll the three fleets, return the figures (in this process). */
export async function measureRollouts(
  progress: (line: string) => void = () => undefined,
): Promise<RolloutFigure[]> {
  const runtime = await startBenchRuntime();
  try {
    const log = countInvocations(runtime);
    const world = new World({ endpoint: runtime.endpoint, region: REGION });
    const measured: Record<string, Measured> = {};
    for (const scenario of SCENARIOS) {
      progress(`rollout bench: ${scenario.label}`);
      measured[scenario.key] = await roll(runtime, world, log, scenario);
    }
    return [
      ...figuresOf(measured['rolling20']!, measured['rolling8']),
      ...figuresOf(measured['rolling8']!),
      ...figuresOf(measured['bluegreen20']!),
      ...figuresOf(measured['rolling8boot']!),
    ];
  } finally {
    await runtime.stop();
  }
}

/**
 * For bench/run.ts: run this module in a child process (`tsx bench/rollout.ts --json`) and record
 * its figures. A child, because the handlers' SDK clients are process-wide singletons that keep the
 * endpoint of the first emulator they reached.
 */
export async function benchRollouts(record: Record_): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
  const child = spawn(tsx, [path.join(__dirname, 'rollout.ts'), '--json'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // The child stops its emulator on SIGTERM.
  const stopChild = () => child.kill('SIGTERM');
  process.once('exit', stopChild);
  const timer = setTimeout(() => {
    stopChild();
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  }, CHILD_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  process.removeListener('exit', stopChild);
  let figures: RolloutFigure[];
  try {
    figures = (JSON.parse(stdout) as { figures: RolloutFigure[] }).figures;
  } catch {
    throw new Error(
      `${COMMAND} --json exited ${String(code)} without figures: ${stderr.trim().split('\n').slice(-5).join(' | ')}`,
    );
  }
  for (const figure of figures) record(figure);
}

function table(figures: readonly RolloutFigure[]): string {
  const lines = ['| figure | value | target | met |', '| --- | --- | --- | --- |'];
  for (const f of figures) {
    const met =
      f.error !== undefined
        ? 'ERROR'
        : f.value !== null && (f.target === null || f.value <= f.target) && f.met !== false
          ? 'yes'
          : 'no';
    lines.push(`| ${f.name} | ${f.value ?? '-'} ${f.unit} | ${f.target ?? '-'} | ${met} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const jsonOnly = process.argv.slice(2).includes('--json');
  const started = performance.now();
  let figures: RolloutFigure[];
  try {
    figures = await measureRollouts((line) => process.stderr.write(`${line}\n`));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    figures = [
      {
        name: 'rollout benchmarks (local runtime)',
        value: null,
        unit: 's',
        target: null,
        command: COMMAND,
        error: message,
      },
    ];
  }
  figures.push({
    name: 'rollout benchmarks: wall time (figures 9–11)',
    value: round((performance.now() - started) / 1000),
    unit: 's',
    target: null,
    command: `${COMMAND} (local runtime start, three rollouts, stop)`,
  });
  process.stdout.write(`${JSON.stringify({ timeScale: TIME_SCALE, figures }, null, 2)}\n`);
  if (!jsonOnly) process.stdout.write(`\n${table(figures)}\n`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`rollout bench: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
