/**
 * The torture run (issue 11 §4): a seeded random mix of everything Phoenix meets, in the local
 * runtime with the emulator's realism on, watched throughout by the invariant observer
 * (local/invariants). Users' and the world's actions only, through real APIs:
 *
 *   - fleets: mixed rolling / blue-green, some with a canary, some gated by an alarm, some behind
 *     a target group, some at min-healthy 50 %, some with a disruption budget of 1; channels shared
 *     by two fleets here and there (fan-out);
 *   - rollouts: new, older, duplicate and broken images, published as users publish them
 *     (`PublishImage` on the Phoenix bus, the channel's SSM parameter, EC2's AMI event);
 *   - replacement events: the published samples (test/support/replace-events.ts) for instances of
 *     the fleets (and now and then for an instance no fleet has);
 *   - pauses and resumes (cli/pause.ts, cli/resume.ts);
 *   - the world's chaos: an instance killed, an availability zone gone bad for a while, Spot
 *     interruptions, a gating alarm in ALARM for a while; boot time on; the reconcile schedule on;
 *   - the fault layer's faults, when the local runtime has it (option `faults`, passed through).
 *
 * Then the run quiesces and the at-rest invariants, the orphans and the accounting of every event
 * put are checked. Report: outcome counts by detail-type, violations (target 0), orphans (target 0),
 * events unaccounted for (target 0), wall time.
 *
 *   npx tsx bench/torture.ts [--seed N] [--fleets N] [--rollouts N] [--replacements N] [--json]
 *
 * bench/run.ts runs it so (`--json`), in a child process: the handlers' SDK clients are
 * process-wide singletons bound to the first emulator they reached.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  AttachLoadBalancerTargetGroupsCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeVpcsCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Tags } from '../lambdas/domain/contract';
import {
  accountEvents,
  checkAtRest,
  checkBrokenImages,
  checkOrphans,
  type FleetExpectation,
  type PutRecord,
  ROLLOUT_ENDS,
  type Snapshot,
  type Violation,
} from '../local/invariants/checks';
import { startObserver } from '../local/invariants/observer';
import { silentLogger } from '../local/log';
import { listenToOutcomes } from '../local/outcomes';
import { startLocalRuntime, type LocalRuntime, type LocalRuntimeOptions } from '../local/runtime';
import type { FaultConfig } from '../local/faults/config';
import { World, worldClients } from '../local/world';
import {
  configDrift,
  entryOf,
  nonCompliant,
  spotInterruption,
  startSession,
  statusCheckAlarm,
} from '../test/support/replace-events';

const REGION = 'us-east-1';
const COMMAND = 'npx tsx bench/torture.ts';
const FIGURES_MARK = 'torture-figures: ';

/** The torture fleets' `phoenix:circuit-window-seconds` (clock time; the quiescence bound is 240 s). */
export const CIRCUIT_WINDOW_SECONDS = 60;

export interface TortureOptions {
  readonly seed: number;
  readonly fleets: number;
  /** Publications (each rolls every fleet of its channel). */
  readonly rollouts: number;
  readonly replacements: number;
  readonly pauses: number;
  /** World chaos actions (kills, bad zones, Spot interruptions, alarms). */
  readonly chaos: number;
  readonly timeScale: number;
  readonly bootSeconds: number;
  /**
   * The fault layer's options (`{ seed, api, lambda, eventLoss, … }`), passed to the local
   * runtime as `faults` when given (and when it has the option).
   */
  readonly faults?: FaultConfig;
  /** Use this running emulator (reset by the caller) instead of starting one. */
  readonly emulatorEndpoint?: string;
  /** Real ms to wait for the run to quiesce after its last action. */
  readonly quiesceTimeoutMs: number;
  readonly log?: (line: string) => void;
  /** Write the whole report (every outcome, every event put) to this file. */
  readonly dump?: string;
}

export const FULL_RUN: Omit<TortureOptions, 'seed'> = {
  fleets: 20,
  rollouts: 100,
  replacements: 100,
  pauses: 6,
  chaos: 20,
  timeScale: 0.01,
  bootSeconds: 30,
  quiesceTimeoutMs: 240_000,
};

export interface TortureReport {
  readonly seed: number;
  readonly replay: string;
  readonly fleets: number;
  readonly publications: number;
  readonly rolloutExecutions: number;
  readonly replacementEvents: number;
  readonly pauses: number;
  readonly chaos: Record<string, number>;
  readonly outcomes: Record<string, number>;
  readonly violations: readonly Violation[];
  readonly orphans: number;
  readonly eventsPut: number;
  readonly unaccounted: number;
  readonly quiesced: boolean;
  /** Real seconds from the script's end to rest (or to the deadline). */
  readonly quiesceSeconds: number;
  /** The last look that was not at rest during the quiescence: what ran, which fleets, why. */
  readonly lastUnrest?: {
    readonly at: string;
    readonly running: readonly string[];
    readonly fleets: readonly { readonly fleet: string; readonly why: readonly string[] }[];
  };
  readonly polls: number;
  readonly pollErrors: number;
  readonly wallSeconds: number;
  readonly faults?: unknown;
  /** Every outcome received, in order (for a dump). */
  readonly received: readonly { detailType: string; detail: Record<string, unknown> }[];
  readonly puts: readonly PutRecord[];
}

/** mulberry32: a small seeded generator, enough for reproducible choices. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface FleetSetup extends FleetExpectation {
  readonly channel: string;
  readonly alarm?: string;
  readonly strategy: 'rolling' | 'blue-green';
}

type Action = 'rollout' | 'replacement' | 'pause' | 'chaos';

export async function runTorture(options: TortureOptions): Promise<TortureReport> {
  const log = options.log ?? (() => undefined);
  const started = performance.now();
  const rand = random(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const replay = `${COMMAND} --seed ${options.seed} --fleets ${options.fleets} --rollouts ${options.rollouts} --replacements ${options.replacements} --pauses ${options.pauses} --chaos ${options.chaos}${options.faults === undefined ? ' --no-faults' : ''}`;
  log(`torture: seed ${options.seed} (replay: ${replay})`);

  const runtimeOptions: LocalRuntimeOptions = {
    region: REGION,
    timeScale: options.timeScale,
    fireSchedules: true,
    log: silentLogger,
    realism: { bootSeconds: options.bootSeconds, timeScale: options.timeScale },
    ...(options.emulatorEndpoint !== undefined ? { emulatorEndpoint: options.emulatorEndpoint } : {}),
    ...(options.faults !== undefined ? { faults: options.faults } : {}),
  };
  const runtime: LocalRuntime = await startLocalRuntime(runtimeOptions);
  // The CLI's modules load the handlers' logger: loaded once the Lambda host set its quiet defaults.
  const { pauseFleetCommand } = await import('../cli/pause');
  const { resumeFleet } = await import('../cli/resume');
  const faults = (runtime as unknown as { faults?: { injected?: unknown; lostEvents?: unknown } }).faults;
  const endpoint = runtime.endpoint;
  const bus = runtime.resources.eventBusName!;
  const machine = (part: string) =>
    Object.entries(runtime.resources.stateMachines).find(([id]) => id.includes(part))?.[1].arn;
  const rolloutArn = machine('Rollout')!;
  const replaceArn = machine('Replace')!;
  const world = new World({ endpoint, region: REGION });
  const clients = worldClients({ endpoint, region: REGION });
  const elb = new ElasticLoadBalancingV2Client({
    region: REGION,
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const outcomeTimes: number[] = [];
  const outcomes = await listenToOutcomes({
    endpoint,
    region: REGION,
    eventBusName: bus,
    name: `torture-outcomes-${options.seed}`,
    onOutcome: () => outcomeTimes.push(Date.now()),
  });
  const killed = new Set<string>();
  // When, and in which fleet (for the floor's bound, and the dump).
  const killedAt = new Map<string, { at: number; fleet?: string }>();
  const zoneFailures: { zone: string; from: number; to?: number }[] = [];
  const kill = (id: string, fleet: string) => {
    killed.add(id);
    killedAt.set(id, { at: Date.now(), fleet });
  };
  const broken = new Set<string>();
  const puts: PutRecord[] = [];
  const chaos: Record<string, number> = { kill: 0, badZone: 0, spot: 0, alarm: 0 };
  let observer: ReturnType<typeof startObserver> | undefined;
  try {
    // ---- the fleets -------------------------------------------------------------------------
    const vpcId = (await clients.ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
    const fleets: FleetSetup[] = [];
    const images = new Map<string, string[]>(); // channel → images, oldest first
    for (let i = 0; i < options.fleets; i++) {
      const fleet = `tf${i}`;
      // Every fifth fleet follows the channel of the one before it (a publication rolls both).
      const channel = i % 5 === 4 ? `tc${i - 1}` : `tc${i}`;
      if (!images.has(channel)) images.set(channel, [await world.registerImage(`${channel}-0`, channel)]);
      const initialImage = images.get(channel)![0]!;
      const capacity = 2 + (i % 3);
      const strategy = i % 4 === 1 ? 'blue-green' : 'rolling';
      const minHealthyPercent = i % 4 === 3 ? 50 : 100;
      const alarm = i % 3 === 0 ? `${fleet}-gate` : undefined;
      const budgetTag = i % 2 === 0 ? '1' : undefined;
      const tags: Record<string, string> = {
        'phoenix:max-surge': i % 2 === 0 ? '1' : '50%',
        'phoenix:warmup-seconds': '10',
        ...(minHealthyPercent !== 100 ? { 'phoenix:min-healthy-percent': String(minHealthyPercent) } : {}),
        ...(strategy === 'blue-green' ? { 'phoenix:strategy': 'blue-green' } : {}),
        ...(strategy === 'rolling' && i % 5 === 2 ? { 'phoenix:canary': 'true' } : {}),
        ...(alarm !== undefined ? { 'phoenix:alarms': alarm, 'phoenix:bake-seconds': '10' } : {}),
        ...(budgetTag !== undefined ? { [Tags.disruptionBudget]: budgetTag } : {}),
        // The circuit's window is clock time, which the time scale does not shrink: at the
        // default 600 s an open circuit (2 health flags on a fleet of 2 open it) held a fleet that a
        // superseded rollout left on another image past the quiescence bound (seed 7, tf6: correct,
        // and the run could not tell). 60 s keeps it well within the bound and still opens.
        [Tags.circuitWindowSeconds]: String(CIRCUIT_WINDOW_SECONDS),
      };
      if (alarm !== undefined) {
        await world.createAlarm(alarm);
        await world.setAlarmState(alarm, 'OK');
      }
      const groupName = await world.createFleet({
        fleet,
        imageId: initialImage,
        size: capacity,
        channel,
        tags,
      });
      if (i % 2 === 0) {
        const tg = (
          await elb.send(
            new CreateTargetGroupCommand({
              Name: `${fleet}-tg`,
              Protocol: 'HTTP',
              Port: 80,
              VpcId: vpcId,
              // The adoption contract: drain deregisters only from target groups tagged phoenix:fleet.
              Tags: [{ Key: Tags.fleet, Value: fleet }],
            }),
          )
        ).TargetGroups![0]!.TargetGroupArn!;
        await clients.autoScaling.send(
          new AttachLoadBalancerTargetGroupsCommand({
            AutoScalingGroupName: groupName,
            TargetGroupARNs: [tg],
          }),
        );
      }
      const lt = (
        await clients.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [`${fleet}-lt`] }))
      ).LaunchTemplates![0]!;
      fleets.push({
        fleet,
        channel,
        capacity,
        minHealthyPercent,
        ...(budgetTag !== undefined ? { budgetTag } : {}),
        ...(alarm !== undefined ? { alarm } : {}),
        strategy,
        initialImage,
        initialLaunchTemplateVersion: lt.LatestVersionNumber ?? 1,
      });
    }
    const fleetsOf = (channel: string) => fleets.filter((f) => f.channel === channel).map((f) => f.fleet);
    log(`torture: ${fleets.length} fleets on ${images.size} channels`);

    observer = startObserver({
      endpoint,
      stepFunctionsEndpoint: runtime.stepFunctionsEndpoint,
      region: REGION,
      tableName: runtime.resources.tableName!,
      rolloutStateMachineArn: rolloutArn,
      replaceStateMachineArn: replaceArn,
      fleets,
      world: { killed, killedAt, zoneFailures },
      intervalMs: 300,
      onViolation: (v) => log(`torture: VIOLATION ${v.invariant} ${v.fleet ?? ''}: ${v.message}`),
    });
    const watching = observer;

    /** The instances of a fleet now (its groups found by tag, as Phoenix finds them). */
    async function instancesOf(fleet: string): Promise<string[]> {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await clients.autoScaling.send(
          new DescribeAutoScalingGroupsCommand({ NextToken: token }),
        );
        for (const g of page.AutoScalingGroups ?? [])
          if ((g.Tags ?? []).some((t) => t.Key === Tags.fleet && t.Value === fleet))
            for (const i of g.Instances ?? []) if (i.LifecycleState === 'InService') out.push(i.InstanceId!);
        token = page.NextToken;
      } while (token);
      return out;
    }

    // ---- the script ---------------------------------------------------------------------------
    const actions: Action[] = [
      ...Array<Action>(options.rollouts).fill('rollout'),
      ...Array<Action>(options.replacements).fill('replacement'),
      ...Array<Action>(options.pauses).fill('pause'),
      ...Array<Action>(options.chaos).fill('chaos'),
    ];
    for (let i = actions.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [actions[i], actions[j]] = [actions[j]!, actions[i]!];
    }
    const later: Promise<unknown>[] = [];
    const paused = new Set<string>();
    const latestPublished = new Map<string, string>();
    const channels = [...images.keys()];
    const kinds = { new: 0, older: 0, duplicate: 0, broken: 0 };

    async function rollout(): Promise<void> {
      const channel = pick(channels);
      const list = images.get(channel)!;
      const roll = rand();
      let imageId: string;
      if (roll < 0.15 && list.length > 1) {
        kinds.older++;
        imageId = list[Math.floor(rand() * (list.length - 1))]!;
      } else if (roll < 0.25 && latestPublished.has(channel)) {
        kinds.duplicate++;
        imageId = latestPublished.get(channel)!;
      } else {
        imageId = await world.registerImage(`${channel}-${list.length}`, channel);
        list.push(imageId);
        if (roll > 0.8) {
          kinds.broken++;
          broken.add(imageId);
          await world.markImageBroken(imageId);
        } else kinds.new++;
      }
      latestPublished.set(channel, imageId);
      const how = rand();
      // Through the channel's SSM parameter, the emulator emits the Parameter Store Change event
      // itself (setChannelParameter returns the parameter's version): accounted by image and fleets.
      const bySsm = how >= 0.5 && how < 0.8;
      const eventId =
        how < 0.5
          ? await world.publishImage(bus, imageId)
          : bySsm
            ? `ssm:${channel}:v${await world.setChannelParameter(channel, imageId)}`
            : await world.announceImage(imageId);
      puts.push({
        eventId,
        kind: 'publication',
        at: Date.now(),
        imageId,
        fleets: fleetsOf(channel),
        ...(bySsm ? { byImage: true, parameter: `/phoenix/channels/${channel}` } : {}),
      });
    }

    async function replacement(): Promise<void> {
      const fleet = pick(fleets).fleet;
      const ids = await instancesOf(fleet);
      const stranger = rand() < 0.05 || ids.length === 0;
      const instanceId = stranger
        ? `i-0${Math.floor(rand() * 1e15)
            .toString(16)
            .padStart(16, '0')}`
        : pick(ids);
      const shape = pick([statusCheckAlarm, spotInterruption, startSession, configDrift, nonCompliant]);
      // A Spot interruption warning dooms the instance (EC2 reclaims it): the world's doing.
      if (shape === spotInterruption && !stranger) kill(instanceId, fleet);
      const eventId = await world.putRaw(entryOf(shape(instanceId)));
      puts.push({
        eventId,
        kind: 'replacement',
        at: Date.now(),
        instanceId,
        fleets: stranger ? [] : [fleet],
      });
    }

    async function pause(): Promise<void> {
      const candidates = fleets.filter((f) => !paused.has(f.fleet));
      if (candidates.length === 0) return;
      const fleet = pick(candidates).fleet;
      paused.add(fleet);
      await pauseFleetCommand(fleet, { eventBusName: bus, reason: 'torture run' });
      const holdMs = 500 + rand() * 2500;
      later.push(
        sleep(holdMs).then(async () => {
          await resumeFleet(fleet, { eventBusName: bus, replaceStateMachineArn: replaceArn });
          paused.delete(fleet);
        }),
      );
    }

    async function worldChaos(): Promise<void> {
      const roll = rand();
      const fleet = pick(fleets);
      if (roll < 0.4) {
        const ids = await instancesOf(fleet.fleet);
        if (ids.length === 0) return;
        const id = pick(ids);
        kill(id, fleet.fleet);
        chaos['kill']!++;
        await world.killInstance(id);
      } else if (roll < 0.6) {
        chaos['badZone']!++;
        const zone = pick([`${REGION}a`, `${REGION}b`]);
        const failure: { zone: string; from: number; to?: number } = { zone, from: Date.now() };
        zoneFailures.push(failure);
        await world.failZone(zone);
        later.push(
          sleep(300 + rand() * 1200)
            .then(() => world.healZone(zone))
            .then(() => {
              failure.to = Date.now();
            }),
        );
      } else if (roll < 0.8) {
        const ids = await instancesOf(fleet.fleet);
        if (ids.length === 0) return;
        chaos['spot']!++;
        const id = pick(ids);
        // EC2 reclaims it within two minutes whatever Phoenix does: the world's doing, not Phoenix's.
        kill(id, fleet.fleet);
        const [eventId] = await world.interruptSpot([id]);
        puts.push({
          eventId: eventId!,
          kind: 'replacement',
          at: Date.now(),
          instanceId: id,
          fleets: [fleet.fleet],
        });
      } else {
        const gated = fleets.filter((f) => f.alarm !== undefined);
        if (gated.length === 0) return;
        const alarm = pick(gated).alarm!;
        chaos['alarm']!++;
        await world.setAlarmState(alarm, 'ALARM');
        later.push(sleep(300 + rand() * 1500).then(() => world.setAlarmState(alarm, 'OK')));
      }
    }

    for (const [n, action] of actions.entries()) {
      if (action === 'rollout') await rollout();
      else if (action === 'replacement') await replacement();
      else if (action === 'pause') await pause();
      else await worldChaos();
      await sleep(rand() * 150);
      if (n % 25 === 24) log(`torture: ${n + 1}/${actions.length} actions`);
    }
    await Promise.all(later);
    log(`torture: script done (${JSON.stringify(kinds)}); quiescing`);

    // ---- quiesce ------------------------------------------------------------------------------
    // At rest: nothing running and every fleet as the at-rest invariant wants it (one group, one
    // image, the desired one, capacity as before…; the growth of its launch template aside, which
    // needs the executions). A fleet still converging (the sweep replacing what a superseded
    // rollout left, once an open circuit clears) is not at rest yet; one that never converges
    // keeps the run from quiescing, and the at-rest check reports it after the deadline.
    const fleetAtRest = (f: Snapshot['fleets'][number], t: number) =>
      checkAtRest(
        f,
        fleets.find((x) => x.fleet === f.fleet)!,
        Number.POSITIVE_INFINITY,
        t,
      ).length === 0;
    const restful = (snap: Snapshot) =>
      snap.running.length === 0 && snap.fleets.every((f) => fleetAtRest(f, Date.now()));
    const deadline = Date.now() + options.quiesceTimeoutMs;
    let quiet = 0;
    // Per fleet, the first look at rest after its last look not at rest (the lost-event bound).
    const restedAt = new Map<string, number | undefined>();
    const look = (snap: Snapshot, t: number) => {
      for (const f of snap.fleets) {
        if (!fleetAtRest(f, t)) restedAt.set(f.fleet, undefined);
        else if (restedAt.get(f.fleet) === undefined) restedAt.set(f.fleet, t);
      }
    };
    // What kept the run from resting, at the last look that was not at rest (for the report).
    const unrest = (snap: Snapshot) => ({
      at: new Date().toISOString(),
      running: snap.running.map((e) => e.name),
      fleets: snap.fleets
        .map((f) => ({
          fleet: f.fleet,
          why: checkAtRest(
            f,
            fleets.find((x) => x.fleet === f.fleet)!,
            Number.POSITIVE_INFINITY,
            Date.now(),
          ).map((v) => v.message),
        }))
        .filter((f) => f.why.length > 0),
    });
    const quiesceStarted = Date.now();
    let last: Snapshot = await watching.snapshot();
    look(last, Date.now());
    let lastUnrest = restful(last) ? undefined : unrest(last);
    // At rest for two sweeps' worth of consecutive looks (the sweep may still start a replacement).
    while (Date.now() < deadline && quiet < 4) {
      await sleep(Math.max(500, 300_000 * options.timeScale * 0.5));
      last = await watching.snapshot();
      look(last, Date.now());
      if (restful(last)) quiet++;
      else {
        quiet = 0;
        lastUnrest = unrest(last);
      }
    }
    const quiesced = quiet >= 4;
    const quiesceSeconds = Math.round((Date.now() - quiesceStarted) / 100) / 10;
    if (!quiesced && lastUnrest !== undefined)
      log(`torture: the last look not at rest, at ${lastUnrest.at}: ${JSON.stringify(lastUnrest)}`);
    if (!quiesced)
      log(
        `torture: did not quiesce within ${options.quiesceTimeoutMs} ms: running ${JSON.stringify(last.running.map((e) => e.name))}; ${JSON.stringify(
          last.fleets
            .filter((f) => !restful({ ...last, running: [], fleets: [f] }))
            .map((f) => ({
              fleet: f.fleet,
              record: f.record,
              groups: f.groups.map((g) => ({
                name: g.name,
                role: g.role,
                desired: g.desired,
                instances: g.instances.map(
                  (i) => `${i.id}:${i.lifecycle}:${i.health}:${i.serving}:${i.imageId}`,
                ),
              })),
            })),
        )}`,
      );
    await watching.stop();

    // ---- at rest and accounting ---------------------------------------------------------------
    const at = Date.now();
    const violations: Violation[] = [...watching.violations];
    const rollouts = await watching.listRollouts();
    for (const f of last.fleets) {
      const expectation = fleets.find((x) => x.fleet === f.fleet)!;
      const executions = rollouts.filter((r) => r.fleet === f.fleet).length;
      violations.push(...checkAtRest(f, expectation, executions, at));
    }
    const orphans = checkOrphans(last);
    violations.push(...orphans);
    violations.push(...checkBrokenImages(outcomes.received, broken, at));
    const deadLetters = await readDeadLetters(endpoint, runtime);
    const lost = lostIds(faults?.lostEvents);
    const lostParameterChanges = Array.isArray(faults?.lostEvents)
      ? (faults.lostEvents as { detailType?: unknown }[]).filter(
          (e) => e.detailType === 'Parameter Store Change',
        ).length
      : 0;
    const atRestFleets = new Set(
      last.fleets
        .filter(
          (f) =>
            checkAtRest(
              f,
              fleets.find((x) => x.fleet === f.fleet)!,
              Infinity,
              at,
            ).length === 0,
        )
        .map((f) => f.fleet),
    );
    const sweeps = outcomes.received
      .map((o, i) => ({ o, t: outcomeTimes[i] ?? at }))
      .filter(({ o }) => o.detailType === 'ReconcileCompleted');
    const actionsEnded = Math.max(0, ...puts.map((p) => p.at));
    const accounting = accountEvents({
      puts,
      outcomes: outcomes.received,
      rollouts,
      deadLetters,
      lost,
      lostParameterChanges,
      converged: (fleet) => atRestFleets.has(fleet),
      // Counted from the loss, or from the end of the actions if later (sweeps while the world
      // still acts are not the heal's), until what the event asked for was done: a publication's
      // fleets each answered its image or one published after it on the fleet (a rollout's end, an
      // ignore), or run it (a replacement event of the same fleet keeping it busy afterwards is
      // not this event's); a replacement's fleets were at rest for good.
      sweepsAfter: (put) => {
        const from = Math.max(put.at, actionsEnded);
        let until: number;
        if (put.kind === 'publication') {
          const ends = put.fleets.map((fleet) => {
            const images = new Set([
              put.imageId,
              ...puts
                .filter((p) => p.kind === 'publication' && p.at > put.at && p.fleets.includes(fleet))
                .map((p) => p.imageId),
            ]);
            // Its image (or a later one) answered on the fleet: a rollout's end or an ignore, even
            // before the loss (a lost duplicate's answer was given already); or the fleet runs it.
            const end = outcomes.received.findIndex(
              (o) =>
                ((ROLLOUT_ENDS as readonly string[]).includes(o.detailType) ||
                  o.detailType === 'PublicationIgnored') &&
                o.detail['fleet'] === fleet &&
                images.has(o.detail['imageId'] as string | undefined),
            );
            if (end >= 0) return outcomeTimes[end] ?? at;
            const now = last.fleets.find((f) => f.fleet === fleet);
            const running = now?.groups.flatMap((g) => g.instances.map((i) => i.imageId)) ?? [];
            return running.length > 0 && running.every((i) => images.has(i))
              ? (restedAt.get(fleet) ?? at)
              : Number.POSITIVE_INFINITY;
          });
          until = Math.max(from, ...ends);
          if (until === Number.POSITIVE_INFINITY) return until;
        } else {
          until = Math.max(from, ...put.fleets.map((f) => restedAt.get(f) ?? at));
          // A sweep leaves a fleet a rollout holds to that rollout (no wrong-image difference, its
          // replacements deferred): the sweeps while a Rollout execution of the event's fleets ran
          // were no chance to heal it (seed 11: a broken image's rollout held tf12 for its 40
          // health checks, 15 sweeps, after the loss of a StartSession event).
          const held = (t: number) =>
            rollouts.some(
              (r) =>
                r.fleet !== undefined &&
                put.fleets.includes(r.fleet) &&
                r.startedAt !== undefined &&
                r.startedAt <= t &&
                t <= (r.stoppedAt ?? Number.POSITIVE_INFINITY),
            );
          return sweeps.filter((s) => s.t >= from && s.t <= until && !held(s.t)).length;
        }
        return sweeps.filter((s) => s.t >= from && s.t <= until).length;
      },
      // A lost event's fleet converges through the reconcile sweep within a bounded number of
      // sweeps once the world stops acting: one finds the difference, its Replace runs; a few
      // more absorb a faulted sweep or Replace attempt and the quiescence looks.
      maxSweeps: LOST_EVENT_MAX_SWEEPS,
      at,
    });
    violations.push(...accounting.violations);
    const counts: Record<string, number> = {};
    for (const o of outcomes.received) counts[o.detailType] = (counts[o.detailType] ?? 0) + 1;
    const report: TortureReport = {
      seed: options.seed,
      replay,
      fleets: fleets.length,
      publications: puts.filter((p) => p.kind === 'publication').length,
      rolloutExecutions: rollouts.length,
      replacementEvents: puts.filter((p) => p.kind === 'replacement').length,
      pauses: options.pauses,
      chaos: { ...chaos, ...Object.fromEntries(Object.entries(kinds).map(([k, v]) => [`images.${k}`, v])) },
      outcomes: counts,
      violations,
      orphans: orphans.length,
      eventsPut: puts.length,
      unaccounted: accounting.violations.length,
      quiesced,
      quiesceSeconds,
      ...(lastUnrest !== undefined ? { lastUnrest } : {}),
      polls: watching.polls,
      pollErrors: watching.pollErrors,
      wallSeconds: Math.round((performance.now() - started) / 100) / 10,
      ...(faults?.injected !== undefined ? { faults: faults.injected } : {}),
      received: outcomes.received.map((o) => ({ detailType: o.detailType, detail: o.detail })),
      puts,
    };
    if (options.dump !== undefined) {
      // For diagnosis: every launch template version of every fleet (who made it: its description).
      const launchTemplates: Record<string, unknown> = {};
      for (const f of fleets) {
        const versions = await clients.ec2.send(
          new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: `${f.fleet}-lt` }),
        );
        launchTemplates[f.fleet] = (versions.LaunchTemplateVersions ?? []).map((v) => ({
          version: v.VersionNumber,
          imageId: v.LaunchTemplateData?.ImageId,
          description: v.VersionDescription,
        }));
      }
      // The forensic record of every fleet a violation names: its executions' histories (state
      // entered / task result, with times); and every world-changing call of the handlers (the
      // fault proxy's trail: EC2, Auto Scaling, Elastic Load Balancing).
      const named = new Set(violations.map((v) => v.fleet).filter((f): f is string => f !== undefined));
      const executions = runtime.stepFunctions
        .listExecutions()
        .filter((e) => [...named].some((f) => e.name.startsWith(`${f}--`)))
        .map((e) => ({
          name: e.name,
          status: e.status,
          start: e.startDate.toISOString(),
          stop: e.stopDate?.toISOString(),
          error: e.error,
          cause: e.cause?.slice(0, 400),
          steps: e.events
            .filter((h) => /StateEntered$|TaskStateExited$|TaskFailed$|ExecutionFailed$/.test(h.type))
            .map((h) => {
              const entered = h['stateEnteredEventDetails'] as { name?: string } | undefined;
              const succeeded = h['stateExitedEventDetails'] as { output?: string } | undefined;
              const failed = (h['taskFailedEventDetails'] ?? h['executionFailedEventDetails']) as
                { error?: string; cause?: string } | undefined;
              return [
                h.timestamp.toISOString(),
                h.type,
                entered?.name ??
                  succeeded?.output?.slice(0, 600) ??
                  `${failed?.error ?? ''}: ${(failed?.cause ?? '').slice(0, 300)}`,
              ];
            }),
        }));
      const trail = runtime.faults?.trail ?? [];
      writeFileSync(
        options.dump,
        `${JSON.stringify(
          {
            ...report,
            launchTemplates,
            forensics: {
              fleets: [...named],
              executions,
              trail,
              killed: [...killedAt].map(([id, k]) => ({ id, ...k, at: new Date(k.at).toISOString() })),
              zoneFailures: zoneFailures.map((z) => ({
                zone: z.zone,
                from: new Date(z.from).toISOString(),
                ...(z.to !== undefined ? { to: new Date(z.to).toISOString() } : {}),
              })),
            },
          },
          null,
          2,
        )}\n`,
      );
    }
    for (const v of violations.slice(watching.violations.length))
      log(
        `torture: VIOLATION ${v.invariant} ${v.fleet ?? ''}: ${v.message} ${JSON.stringify(v.evidence ?? {})}`,
      );
    log(
      `torture: seed ${options.seed}: ${violations.length} violations, ${report.orphans} orphans, ${report.unaccounted} unaccounted, quiesced ${String(quiesced)}, ${report.wallSeconds} s`,
    );
    return report;
  } finally {
    await observer?.stop();
    await outcomes.stop();
    await runtime.stop();
  }
}

/** The torture run's faults: API and Lambda faults 10 %, events lost 1 %, duplicated and delayed 5 %. */
export const TORTURE_FAULTS = (seed: number): FaultConfig => ({
  seed,
  api: 0.1,
  lambda: 0.1,
  eventLoss: 0.01,
  eventDuplicate: 0.05,
  eventDelay: 0.05,
});

/** The bound of the lost-event check: sweeps after a lost event within which its fleets converge. */
export const LOST_EVENT_MAX_SWEEPS = 10;

/** The event ids the fault layer consumed and never delivered (its `lostEvents`, loosely read). */
function lostIds(value: unknown): Set<string> {
  const out = new Set<string>();
  if (!Array.isArray(value)) return out;
  for (const item of value as unknown[]) {
    if (typeof item === 'string') out.add(item);
    else if (item !== null && typeof item === 'object') {
      const o = item as Record<string, unknown>;
      const id = o['eventId'] ?? o['id'] ?? (o['event'] as Record<string, unknown> | undefined)?.['id'];
      if (typeof id === 'string') out.add(id);
    }
  }
  return out;
}

/** The bodies of every message on the template's dead-letter queues (received, not deleted). */
async function readDeadLetters(endpoint: string, runtime: LocalRuntime): Promise<string[]> {
  const sqs = new SQSClient({
    region: REGION,
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const bodies: string[] = [];
  for (const queue of Object.values(runtime.resources.queues)) {
    for (let round = 0; round < 20; round++) {
      const got = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }),
      );
      if ((got.Messages ?? []).length === 0) break;
      for (const m of got.Messages ?? []) bodies.push(m.Body ?? '');
    }
  }
  return bodies;
}

// ---- bench/run.ts and the CLI -------------------------------------------------------------------

export interface TortureFigure {
  name: string;
  value: number | null;
  unit: string;
  target: number | null;
  command: string;
  met?: boolean;
  detail?: Record<string, unknown>;
  error?: string;
}

export function figuresOf(report: TortureReport): TortureFigure[] {
  const command = report.replay;
  const detail = {
    seed: report.seed,
    replay: report.replay,
    fleets: report.fleets,
    publications: report.publications,
    rolloutExecutions: report.rolloutExecutions,
    replacementEvents: report.replacementEvents,
    chaos: report.chaos,
    outcomes: report.outcomes,
    quiesced: report.quiesced,
    quiesceSeconds: report.quiesceSeconds,
    ...(report.lastUnrest !== undefined ? { lastUnrest: report.lastUnrest } : {}),
    polls: report.polls,
    pollErrors: report.pollErrors,
    ...(report.faults !== undefined ? { faults: report.faults } : {}),
  };
  return [
    {
      name: 'torture: invariant violations',
      value: report.violations.length,
      unit: 'violations',
      target: 0,
      command,
      met: report.quiesced,
      detail: { ...detail, violations: report.violations.slice(0, 20) },
    },
    { name: 'torture: orphans', value: report.orphans, unit: 'instances', target: 0, command },
    {
      name: 'torture: events unaccounted for',
      value: report.unaccounted,
      unit: 'events',
      target: 0,
      command,
      detail: { eventsPut: report.eventsPut },
    },
    { name: 'torture: wall time', value: report.wallSeconds, unit: 's', target: null, command },
  ];
}

/** For bench/run.ts: run this module in a child process (`--json`) and record its figures. */
export async function benchTorture(record: (figure: TortureFigure) => unknown, seed: number): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
  const child = spawn(tsx, [path.join(__dirname, 'torture.ts'), '--json', '--seed', String(seed)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    process.stderr.write(chunk);
  });
  const stopChild = () => child.kill('SIGTERM');
  process.once('exit', stopChild);
  const timer = setTimeout(() => {
    stopChild();
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  }, 1_800_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  process.removeListener('exit', stopChild);
  let figures: TortureFigure[];
  try {
    const line = stdout.split('\n').find((l) => l.startsWith(FIGURES_MARK));
    figures = (JSON.parse(line!.slice(FIGURES_MARK.length)) as { figures: TortureFigure[] }).figures;
  } catch {
    throw new Error(
      `${COMMAND} --json exited ${String(code)} without figures: ${stderr.trim().split('\n').slice(-5).join(' | ')}`,
    );
  }
  for (const figure of figures) record(figure);
}

function argument(name: string): number | undefined {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  if (at < 0 || args[at + 1] === undefined) return undefined;
  const n = Number(args[at + 1]);
  if (!Number.isInteger(n)) throw new Error(`--${name} takes a whole number`);
  return n;
}

async function main(): Promise<void> {
  const seed = argument('seed') ?? Math.floor(Math.random() * 2 ** 31);
  const faultsOn = !process.argv.slice(2).includes('--no-faults');
  const args = process.argv.slice(2);
  const dumpAt = args.indexOf('--dump');
  const report = await runTorture({
    ...FULL_RUN,
    seed,
    fleets: argument('fleets') ?? FULL_RUN.fleets,
    rollouts: argument('rollouts') ?? FULL_RUN.rollouts,
    replacements: argument('replacements') ?? FULL_RUN.replacements,
    pauses: argument('pauses') ?? FULL_RUN.pauses,
    chaos: argument('chaos') ?? FULL_RUN.chaos,
    ...(faultsOn ? { faults: TORTURE_FAULTS(seed) } : {}),
    ...(dumpAt >= 0 && args[dumpAt + 1] !== undefined ? { dump: args[dumpAt + 1] } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const figures = figuresOf(report);
  // One marked line: the handlers' own WARN logs share stdout.
  process.stdout.write(`${FIGURES_MARK}${JSON.stringify({ figures })}\n`);
  if (!process.argv.slice(2).includes('--json')) {
    for (const v of report.violations)
      process.stdout.write(`${v.invariant} ${v.fleet ?? ''}: ${v.message}\n`);
    process.stdout.write(`outcomes: ${JSON.stringify(report.outcomes)}\n`);
  }
}

if (require.main === module) {
  let stopping = false;
  process.once('SIGTERM', () => {
    stopping = true;
    process.exit(143);
  });
  main().then(
    () => process.exit(stopping ? 143 : 0),
    (error: unknown) => {
      process.stderr.write(
        `torture: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
