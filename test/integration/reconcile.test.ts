/**
 * The reconcile sweep against the emulator: each kind of difference found and turned into the
 * event path's action (a Replace execution under the deterministic name, against the local Step
 * Functions service, whose executions are not run here), dead slots reclaimed, the outcomes, and
 * the AWS calls a sweep makes.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import {
  AttachInstancesCommand,
  DescribeAutoScalingGroupsCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  DeregisterImageCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { recordOutcome } from '../../lambdas/aws/store/history';
import { acquireSlot } from '../../lambdas/aws/store/replacement-slots';
import { DetailTypes, Tags } from '../../lambdas/domain/contract';
import { MAX_REPLACE_ATTEMPTS, replaceExecutionName } from '../../lambdas/domain/replace';
import { runReconcile } from '../../lambdas/steps/reconcile';
import type { OutcomeListener } from '../../local/outcomes';
import { LocalStepFunctions } from '../../local/stepfunctions';
import { World, worldClients } from '../../local/world';
import { freshWorld, neverEnds, REGION } from '../support/control-plane';

let world: World;
let clients: ReturnType<typeof worldClients>;
let service: LocalStepFunctions;
let replaceArn: string;
let outcomes: OutcomeListener;
let emulator: string;

beforeAll(async () => {
  // The executions' tasks are not run here: they stay RUNNING until aborted.
  const fx = await freshWorld({ tasks: neverEnds });
  ({ endpoint: emulator, world, clients, outcomes, service } = fx);
  replaceArn = fx.stateMachineArn('Replace');
  process.env['PHOENIX_REPLACE_STATE_MACHINE_ARN'] = replaceArn;
  return fx.stop;
});

async function fleetOf(fleet: string, size: number, desired?: string) {
  const imageId = await world.registerImage(`${fleet}-a`, fleet);
  const groupName = await world.createFleet({ fleet, imageId, size });
  if (desired !== undefined) {
    await recordOutcome({
      fleet,
      execution: `seed-${fleet}`,
      entry: { imageId, outcome: 'succeeded', at: new Date().toISOString(), execution: `seed-${fleet}` },
      desiredImage: desired === 'same' ? imageId : desired,
      now: new Date(),
    });
  }
  const instances = (await world.viewFleet(groupName)).instances.map((i) => i.instanceId);
  return { fleet, imageId, groupName, instances };
}

const replaceExecutions = () => service.listExecutions({ stateMachineArn: replaceArn });

describe('reconcile against the emulator', () => {
  it('3 fleets of 10 in step with their records: no difference, 6 AWS calls', async () => {
    for (const f of ['calm1', 'calm2', 'calm3']) await fleetOf(f, 10, 'same');
    const report = await runReconcile();
    expect(report).toMatchObject({ fleets: 3, instances: 30, differences: 0, started: 0 });
    // 1 DescribeAutoScalingGroups, 2 DescribeInstances (the members by id; the instances tagged
    // phoenix:fleet, for strays), 1 BatchGetItem, 1 DescribeImages, 1 PutEvents.
    expect(report.calls).toEqual({
      DescribeAutoScalingGroups: 1,
      DescribeInstances: 2,
      BatchGetItem: 1,
      DescribeImages: 1,
      PutEvents: 1,
    });
    expect(report.apiCalls).toBe(6);
    const done = await outcomes.waitFor((e) => e.detailType === DetailTypes.ReconcileCompleted);
    expect(done.detail).toMatchObject({ fleets: 3, instances: 30, differences: 0, started: 0, apiCalls: 6 });
  });

  it('finds each kind of difference, starts the event path executions once, reclaims dead slots', async () => {
    // Wrong image: the record wants an image the instances do not run.
    const newer = await world.registerImage('drifty-b', 'drifty');
    const drifty = await fleetOf('drifty', 2, newer);
    // Tainted but still InService.
    const sore = await fleetOf('sore', 2, 'same');
    await clients.ec2.send(
      new CreateTagsCommand({
        Resources: [sore.instances[0]!],
        Tags: [{ Key: Tags.tainted, Value: 'health' }],
      }),
    );
    // The desired image deregistered.
    const orphan = await fleetOf('orphan', 1, 'same');
    await clients.ec2.send(new DeregisterImageCommand({ ImageId: orphan.imageId }));
    // Mid-rollout: other images are the rollout's business.
    const other = await world.registerImage('rolling-b', 'rolling');
    const rolling = await fleetOf('rolling', 2, other);
    await acquireLock({
      fleet: 'rolling',
      channel: 'rolling',
      now: new Date(),
      lock: {
        execution: 'r1',
        imageId: other,
        startedAt: new Date().toISOString(),
        expiresAt: Date.now() / 1000 + 3600,
      },
    });
    // A slot of a dead replacement, taken two hours ago.
    await acquireSlot({
      fleet: 'sore',
      instanceId: 'i-0deaddeaddeaddead',
      execution: 'dead-exec',
      budget: 5,
      now: new Date(Date.now() - 2 * 3600_000),
    });

    const report = await runReconcile();
    const mine = report.details.filter((d) => ['drifty', 'sore', 'orphan', 'rolling'].includes(d.fleet));
    expect(mine.map((d) => [d.fleet, d.kind, 'instanceId' in d ? d.instanceId : null]).sort()).toEqual(
      [
        ['drifty', 'wrong-image', drifty.instances[0]],
        ['drifty', 'wrong-image', drifty.instances[1]],
        ['orphan', 'desired-image-missing', null],
        ['sore', 'tainted', sore.instances[0]],
      ].sort(),
    );
    expect(rolling.instances).toHaveLength(2);
    expect(report.started).toBe(3);
    const names = replaceExecutions()
      .map((e) => e.name)
      .sort();
    expect(names).toEqual(
      [
        replaceExecutionName('drifty', drifty.instances[0]!),
        replaceExecutionName('drifty', drifty.instances[1]!),
        replaceExecutionName('sore', sore.instances[0]!),
      ].sort(),
    );
    const tainted = replaceExecutions().find(
      (e) => e.name === replaceExecutionName('sore', sore.instances[0]!),
    );
    expect(JSON.parse(String(tainted?.input))).toMatchObject({
      fleet: 'sore',
      cause: 'health',
      instanceId: sore.instances[0],
    });
    expect(report.reclaimedSlots).toEqual([
      expect.objectContaining({ fleet: 'sore', instanceId: 'i-0deaddeaddeaddead', execution: 'dead-exec' }),
    ]);
    expect((await readFleetRecord('sore'))?.replacementsInFlight).toBe(0);
    const missing = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.DesiredImageMissing && e.detail['fleet'] === 'orphan',
    );
    expect(missing.detail).toMatchObject({ imageId: orphan.imageId });

    // Again while they run: the same names, so nothing new starts (the dedupe of the event path).
    const again = await runReconcile();
    expect(again.started).toBe(0);
    expect(again.details.filter((d) => 'duplicate' in d && d.duplicate === true)).toHaveLength(3);
    expect(replaceExecutions()).toHaveLength(3);

    // Aborted without replacing anything, the instances still serving: the next sweep starts the
    // next attempt of each (`<name>-2`), once.
    for (const e of replaceExecutions()) service.stopExecution(e.executionArn);
    // A sweep whose look is older than those ends (it started before them: found by the torture
    // run, where sweeps slower than their interval used up every attempt on instances already
    // gone) starts nothing: the attempts know more than it does.
    const stale = await runReconcile({ now: new Date(Date.now() - 60_000) });
    expect(stale.started).toBe(0);
    expect(stale.details.filter((d) => 'duplicate' in d && d.duplicate === true)).toHaveLength(3);
    expect(replaceExecutions().filter((e) => e.status === 'RUNNING')).toEqual([]);
    const retried = await runReconcile();
    expect(retried.started).toBe(3);
    expect(retried.calls).toMatchObject({ StartExecution: 6, DescribeExecution: 3 });
    const reattempts = await runReconcile();
    expect(reattempts.started).toBe(0);
    expect(
      replaceExecutions()
        .filter((e) => e.status === 'RUNNING')
        .map((e) => e.name)
        .sort(),
    ).toEqual(names.map((n) => `${n}-2`).sort());
  });

  it('after MAX_REPLACE_ATTEMPTS attempts that all ended without replacing an instance, starts no more and says so (exhausted)', async () => {
    const name = (d: { fleet: string }) => d.fleet === 'sore';
    // The test before left attempt 2 of each running: stop, sweep, until every attempt was used.
    for (let attempt = 2; attempt < MAX_REPLACE_ATTEMPTS; attempt++) {
      for (const e of replaceExecutions().filter((x) => x.status === 'RUNNING'))
        service.stopExecution(e.executionArn);
      const report = await runReconcile({ fleet: 'sore' });
      expect(report.details.filter(name)).toEqual([
        expect.objectContaining({
          duplicate: false,
          execution: expect.stringMatching(new RegExp(`-${attempt + 1}$`)),
        }),
      ]);
    }
    for (const e of replaceExecutions().filter((x) => x.status === 'RUNNING'))
      service.stopExecution(e.executionArn);
    const done = await runReconcile({ fleet: 'sore' });
    expect(done.started).toBe(0);
    expect(done.details.filter(name)).toEqual([
      expect.objectContaining({ kind: 'tainted', duplicate: true, exhausted: true }),
    ]);
  });

  it('one fleet on demand, or only a report (act: false)', async () => {
    const report = await runReconcile({ fleet: 'drifty', act: false });
    expect(report.fleets).toBe(1);
    expect(report.details.map((d) => d.kind)).toEqual(['wrong-image', 'wrong-image']);
    expect(report.started).toBe(0);
    expect(report.calls['PutEvents']).toBeUndefined();
  });

  it('the CLI process: phoenix reconcile <fleet> --dry-run prints the result as JSON', async () => {
    const base = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !/^(AWS_ENDPOINT_URL|AWS_REGION|AWS_DEFAULT_REGION|PHOENIX_)/.test(key),
      ),
    );
    const { stdout } = await promisify(execFile)(
      'node',
      ['bin/phoenix.js', 'reconcile', 'drifty', '--dry-run', '--table', process.env['PHOENIX_TABLE_NAME']!],
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
    );
    const report = JSON.parse(stdout) as { fleets: number; differences: number; apiCalls: number };
    expect(report).toMatchObject({ fleets: 1, differences: 2 });
    expect(report.apiCalls).toBe(5);
  });

  it('reports an instance with the fleet tag that no Auto Scaling group launched (StrayInstance), untouched', async () => {
    const { fleet, imageId, instances } = await fleetOf('snow', 2, 'same');
    // A server started by hand with the fleet's tag.
    const run = await clients.ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: Tags.fleet, Value: fleet }] }],
      }),
    );
    const strayId = run.Instances![0]!.InstanceId!;

    const report = await runReconcile({ fleet });
    expect(report.details.map((d) => [d.kind, 'instanceId' in d ? d.instanceId : undefined])).toEqual([
      ['stray-instance', strayId],
    ]);
    expect(report.started).toBe(0);
    const stray = await outcomes.waitFor(
      (e) => e.detailType === DetailTypes.StrayInstance && e.detail['instanceId'] === strayId,
    );
    expect(stray.detail).toMatchObject({ fleet });
    // Not touched, not replaced: Phoenix replaces only members of the fleet's groups.
    const state = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [strayId] }));
    expect(state.Reservations![0]!.Instances![0]!.State?.Name).toBe('running');
    const executions = replaceExecutions().map((e) => e.name);
    expect(executions).not.toContain(replaceExecutionName(fleet, strayId));
    for (const id of instances) expect(executions).not.toContain(replaceExecutionName(fleet, id));
  });
  it('replaces instances launched before the launch template version their group launches (an older configuration), once per version read', async () => {
    const { fleet, groupName, instances } = await fleetOf('config', 2, 'same');
    // The group moves to a new version (same image, another instance type) created after its
    // instances were launched (beyond the 5 s clock tolerance).
    await new Promise((resolve) => setTimeout(resolve, 6_500));
    const group = (
      await clients.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
      )
    ).AutoScalingGroups![0]!;
    const templateId = group.LaunchTemplate!.LaunchTemplateId!;
    const created = await clients.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: templateId,
        SourceVersion: '1',
        LaunchTemplateData: { InstanceType: 't3.small' },
      }),
    );
    const version = String(created.LaunchTemplateVersion!.VersionNumber);
    await clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: groupName,
        LaunchTemplate: { LaunchTemplateId: templateId, Version: version },
      }),
    );

    const report = await runReconcile({ fleet });
    expect(report.details.map((d) => [d.kind, 'instanceId' in d ? d.instanceId : undefined]).sort()).toEqual(
      instances.map((id) => ['stale-launch-template', id]).sort(),
    );
    expect(report.calls['DescribeLaunchTemplateVersions']).toBe(1);
    expect(report.started).toBe(2);
    const executions = replaceExecutions().map((e) => e.name);
    for (const id of instances) expect(executions).toContain(replaceExecutionName(fleet, id));
    // The version and its creation time are remembered: the next sweep does not ask again.
    expect((await readFleetRecord(fleet))?.observedLaunchTemplate).toMatchObject({ id: templateId, version });
    const again = await runReconcile({ fleet, act: false });
    expect(again.calls['DescribeLaunchTemplateVersions']).toBeUndefined();
    // A group on $Latest (as every fleet of this file) is never compared: no such call.
  });

  it('no rollout ever committed: an instance on another image than the one its group launches is replaced', async () => {
    // Regression (torture run, seed 20261202): a rollout paused after a batch before any commit
    // (the record has no desired image) pointed the group back at its original version and left
    // the rolled instance on an uncommitted image; the sweep compared with nothing.
    const { fleet, imageId, groupName, instances } = await fleetOf('nocommit', 2);
    const rolledImage = await world.registerImage(`${fleet}-b`, fleet);
    const group = (
      await clients.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
      )
    ).AutoScalingGroups![0]!;
    const templateId = group.LaunchTemplate!.LaunchTemplateId!;
    // The rollout's version, a batch launched from it, then the safe-point stop's version 1 again.
    const created = await clients.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: templateId,
        SourceVersion: '1',
        LaunchTemplateData: { ImageId: rolledImage },
      }),
    );
    const subnet = (await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instances[0]!] })))
      .Reservations![0]!.Instances![0]!.SubnetId!;
    const rolled = await clients.ec2.send(
      new RunInstancesCommand({
        LaunchTemplate: {
          LaunchTemplateId: templateId,
          Version: String(created.LaunchTemplateVersion!.VersionNumber),
        },
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnet,
      }),
    );
    const rolledId = rolled.Instances![0]!.InstanceId!;
    await clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: groupName, MaxSize: 3 }),
    );
    await clients.autoScaling.send(
      new AttachInstancesCommand({ AutoScalingGroupName: groupName, InstanceIds: [rolledId] }),
    );
    await clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: groupName,
        LaunchTemplate: { LaunchTemplateId: templateId, Version: '1' },
      }),
    );
    await acquireLock({
      fleet,
      channel: fleet,
      lock: {
        execution: 'paused-rollout',
        imageId: rolledImage,
        startedAt: new Date().toISOString(),
        expiresAt: 1,
      },
      now: new Date(),
    });
    expect((await readFleetRecord(fleet))?.desiredImage).toBeUndefined();

    const report = await runReconcile({ fleet });
    expect(report.details).toMatchObject([
      { kind: 'wrong-image', instanceId: rolledId, imageId: rolledImage, desiredImage: imageId },
    ]);
    expect(report.started).toBe(1);
    expect(replaceExecutions().map((e) => e.name)).toContain(replaceExecutionName(fleet, rolledId));
    expect((await readFleetRecord(fleet))?.observedLaunchTemplate).toMatchObject({ version: '1', imageId });
  });
});
