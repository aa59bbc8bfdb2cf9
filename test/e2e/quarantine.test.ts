/**
 * End to end in the local runtime: quarantine (issue 13 §3). A broken image (the world's AMI tag
 * `phoenix-world:broken=true`: its instances never become healthy, local/realism) rolls back in a
 * fleet and is quarantined: the AMI tagged `phoenix:quarantined=health`, `IMAGE#<id>` recorded,
 * `ImageQuarantined` put. A second fleet of the same channel then rejects it before anything is
 * launched (`RolloutRejected` naming the quarantine). `phoenix release` (the real CLI process)
 * clears it, recorded with who and when (`ImageReleased`), and the image rolls again.
 *
 * And the other side: a rollback Phoenix caused itself (its own deadline) does not quarantine.
 */
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { applyTarget } from '../../cli/target';
import { readImageRecord } from '../../lambdas/aws/store/images';
import { DetailTypes, Tags } from '../../lambdas/domain/contract';
import type { OutcomeEvent } from '../../local/outcomes';
import { worldClients } from '../../local/world';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const local = useLocalRuntime();

const phoenix = (args: string[]) => local.phoenix(args);

const TERMINAL: readonly string[] = [
  DetailTypes.RolloutSucceeded,
  DetailTypes.RolloutRejected,
  DetailTypes.RolloutRolledBack,
  DetailTypes.RolloutFailed,
];

const rolloutEnd = (fleet: string, imageId: string, after = 0): Promise<OutcomeEvent> =>
  local.outcomes.waitFor(
    (e) =>
      e.detail['fleet'] === fleet &&
      e.detail['imageId'] === imageId &&
      TERMINAL.includes(e.detailType) &&
      local.outcomes.received.indexOf(e) >= after,
    120_000,
  );

async function imageTags(imageId: string): Promise<Record<string, string>> {
  const { ec2 } = worldClients({ endpoint: local.endpoint, region: REGION });
  const page = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  return Object.fromEntries((page.Images?.[0]?.Tags ?? []).map((t) => [t.Key!, t.Value ?? '']));
}

function useTarget(): void {
  applyTarget({
    region: REGION,
    endpointUrl: local.runtime.endpoint,
    table: local.runtime.resources.tableName!,
  });
}

describe('quarantine', () => {
  it('a broken image rolls back in one fleet, is quarantined, is refused by the next fleet of the channel, and rolls again once released', async () => {
    const channel = 'qchan';
    const imageA = await local.world.registerImage('q-a', channel);
    const groupOne = await local.world.createFleet({ fleet: 'q-one', imageId: imageA, size: 2, channel });
    const imageB = await local.world.registerImage('q-b', channel);
    await local.world.markImageBroken(imageB);

    // 1. The first fleet rolls B, its batch never becomes healthy: rolled back, B quarantined.
    const rolledBack = rolloutEnd('q-one', imageB);
    const quarantined = local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ImageQuarantined && e.detail['imageId'] === imageB,
      120_000,
    );
    await local.world.publishImage(local.busName, imageB, channel);
    const end = await rolledBack;
    expect(end.detailType).toBe(DetailTypes.RolloutRolledBack);
    expect(end.detail['error']).toBe('BatchNotHealthyError');
    expect(end.detail['quarantine']).toEqual({ reason: 'health', tagged: true, recorded: true });
    const q = await quarantined;
    expect(q.detail).toMatchObject({
      imageId: imageB,
      reason: 'health',
      fleet: 'q-one',
      channel,
      execution: end.detail['execution'],
      step: 'CheckBatchHealth',
      tagged: true,
    });
    expect((await imageTags(imageB))[Tags.quarantined]).toBe('health');
    useTarget();
    const record = await readImageRecord(imageB);
    expect(record?.quarantine).toMatchObject({
      reason: 'health',
      fleet: 'q-one',
      execution: end.detail['execution'],
    });
    expect((await local.world.viewFleet(groupOne)).instances.every((i) => i.imageId === imageA)).toBe(true);

    // 2. A second fleet of the channel (and the first one again) refuses B: nothing launched.
    const groupTwo = await local.world.createFleet({ fleet: 'q-two', imageId: imageA, size: 1, channel });
    const mark = local.outcomes.received.length;
    const rejectedTwo = rolloutEnd('q-two', imageB, mark);
    const rejectedOne = rolloutEnd('q-one', imageB, mark);
    await local.world.publishImage(local.busName, imageB, channel);
    for (const rejected of [await rejectedTwo, await rejectedOne]) {
      expect(rejected.detailType).toBe(DetailTypes.RolloutRejected);
      expect(rejected.detail['error']).toBe('ImageRejectedError');
      expect(rejected.detail['reason']).toContain(`is quarantined (${Tags.quarantined}=health)`);
      expect(rejected.detail['reason']).toContain(`phoenix release ${imageB}`);
    }
    expect((await local.world.viewFleet(groupTwo)).instances.map((i) => i.imageId)).toEqual([imageA]);

    // 3. phoenix release: the tag goes, the release is recorded with who and when, ImageReleased.
    const bad = await phoenix(['release', 'not-an-ami']);
    expect(bad.code).toBe(2);
    const released = local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ImageReleased && e.detail['imageId'] === imageB,
      30_000,
    );
    const cli = await phoenix(['release', imageB, '--reason', 'the health check was fixed', '--json']);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const report = JSON.parse(cli.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ imageId: imageB, wasQuarantined: true, tag: 'health' });
    expect(String(report['releasedBy'])).toMatch(/^arn:aws:/);
    expect((await released).detail).toMatchObject({
      imageId: imageB,
      releasedBy: report['releasedBy'],
      reason: 'the health check was fixed',
      quarantineReason: 'health',
    });
    expect((await imageTags(imageB))[Tags.quarantined]).toBeUndefined();
    const after = await readImageRecord(imageB);
    expect(after?.quarantine).toBeUndefined();
    expect(after?.releases).toHaveLength(1);
    expect(after?.releases[0]).toMatchObject({
      by: report['releasedBy'],
      at: report['at'],
      reason: 'the health check was fixed',
      quarantine: { reason: 'health', fleet: 'q-one' },
    });
    // Released again: nothing to do, exit 0.
    const again = await phoenix(['release', imageB]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('not quarantined');

    // 4. Fixed in the world (no longer broken), B rolls in both fleets.
    await local.world.tagImageWith(imageB, 'phoenix-world:broken', 'false');
    const mark2 = local.outcomes.received.length;
    const okOne = rolloutEnd('q-one', imageB, mark2);
    const okTwo = rolloutEnd('q-two', imageB, mark2);
    await local.world.publishImage(local.busName, imageB, channel);
    expect((await okOne).detailType).toBe(DetailTypes.RolloutSucceeded);
    expect((await okTwo).detailType).toBe(DetailTypes.RolloutSucceeded);
  });
});
