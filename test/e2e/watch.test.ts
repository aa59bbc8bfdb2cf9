/**
 * `phoenix status --watch` and `phoenix publish --wait` against the real state: rollouts run in the
 * local runtime (emulator + local Step Functions); the watch model is read in-process while a
 * rolling rollout goes batch by batch, and `publish --wait` follows the rollouts its PublishImage
 * starts to their outcome.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fleetStatus } from '../../cli/status';
import { readWatchModel } from '../../cli/watch';
import { publishImage } from '../../cli/publish';
import { rollbackFleet } from '../../cli/rollback';
import type { WatchModel } from '../../cli/watch-model';
import { EXIT_CODES } from '../../cli/exit-codes';
import { Env } from '../../lambdas/domain/contract';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const ROOT = path.resolve(__dirname, '../..');

const local = useLocalRuntime({ outcomes: false });

function pointAtRuntime(): void {
  process.env[Env.rolloutStateMachineArn] = local.runtime.resources.stateMachineArn!;
  process.env[Env.tableName] = local.runtime.resources.tableName!;
}

/** Read the model until `done` says so (each read is a real read of the emulator and executions). */
async function modelUntil(
  fleet: string,
  done: (m: WatchModel) => boolean,
  timeoutMs = 60_000,
): Promise<WatchModel> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const model = await readWatchModel(fleet);
    if (done(model)) return model;
    if (Date.now() > deadline) throw new Error(`no such model of ${fleet}: last ${JSON.stringify(model)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('status --watch during a rolling rollout', () => {
  it('names the image being rolled out and counts its instances as new, batch by batch', async () => {
    pointAtRuntime();
    const imageA = await local.world.registerImage('roll-a', 'roll');
    await local.world.createFleet({
      fleet: 'roll',
      imageId: imageA,
      size: 4,
      // Each batch warms up 300 s, 3 s in the local runtime's scaled time: long enough to look.
      tags: { 'phoenix:warmup-seconds': '300' },
    });
    const imageB = await local.world.registerImage('roll-b', 'roll');
    await local.world.publishImage(local.busName, imageB, 'roll');

    const warming = await modelUntil(
      'roll',
      (m) => m.rollout?.gate?.kind === 'warm-up' && (m.groups[0]?.counts.new ?? 0) >= 1,
    );
    expect(warming).toMatchObject({
      fleet: 'roll',
      strategy: 'rolling',
      currentImage: imageA,
      targetImage: imageB,
      phase: 'rolling',
      rollout: { imageId: imageB, gate: { kind: 'warm-up', seconds: 300 } },
    });
    expect(warming.rollout?.batch).toMatchObject({ of: 4, size: 1 });
    const group = warming.groups[0]!;
    expect(group.instances.filter((i) => i.role === 'new').every((i) => i.imageId === imageB)).toBe(true);
    expect(group.instances.filter((i) => i.role === 'old').every((i) => i.imageId === imageA)).toBe(true);
    expect(group.counts.new + group.counts.old).toBe(group.counts.total);

    // `status` (not only --watch) names the image rolled out and counts its instances as new.
    const report = await fleetStatus({ fleet: 'roll' });
    const fleet = report.fleets[0]!;
    expect(fleet.targetImage).toBe(imageB);
    expect(fleet.desiredImage).toBeNull(); // its first rollout: nothing committed yet
    const byImage = fleet.groups[0]!.instances.byImage;
    expect(byImage.find((c) => c.imageId === imageB)?.desired).toBe(true);
    expect(fleet.groups[0]!.instances.onDesiredImage).toBe(byImage.find((c) => c.imageId === imageB)?.count);

    // A later batch: more new instances, and the batch number moves on.
    const later = await modelUntil(
      'roll',
      (m) => (m.rollout?.batch?.number ?? 0) >= 2 && m.rollout?.gate?.kind === 'warm-up',
    );
    expect(later.targetImage).toBe(imageB);
    expect(later.groups[0]!.counts.new).toBeGreaterThanOrEqual(2);

    const ended = await modelUntil('roll', (m) => m.rollout === null, 120_000);
    expect(ended).toMatchObject({
      phase: 'idle',
      targetImage: imageB,
      last: { outcome: 'succeeded', exit: 'succeeded' },
    });
    expect(ended.groups[0]!.counts).toMatchObject({ new: 4, old: 0 });
  });
});

describe('publish --wait', () => {
  it('exits 0 for a good image and with the rejected code for an older one', async () => {
    pointAtRuntime();
    const imageA = await local.world.registerImage('pub-a', 'pub');
    await local.world.createFleet({ fleet: 'pub', imageId: imageA, size: 2 });
    const imageB = await local.world.registerImage('pub-b', 'pub');

    const good = await publishImage(imageB, {
      eventBusName: local.busName,
      wait: true,
      pollMs: 100,
      timeoutSeconds: 120,
    });
    expect(good).toMatchObject({ imageId: imageB, channel: 'pub', exit: 'succeeded' });
    expect(good.results).toEqual([
      expect.objectContaining({ fleet: 'pub', outcome: 'succeeded', exit: 'succeeded' }),
    ]);
    expect(EXIT_CODES[good.exit!].code).toBe(0);

    // imageA is older than the fleet's image now: the rollout rejects it.
    const older = await publishImage(imageA, {
      channel: 'pub',
      eventBusName: local.busName,
      wait: true,
      pollMs: 100,
      timeoutSeconds: 120,
    });
    expect(older.exit).toBe('rejected');
    expect(older.results?.[0]).toMatchObject({ fleet: 'pub', outcome: 'rejected' });
    expect(older.results?.[0]?.reason).toBeTruthy();
    expect(EXIT_CODES[older.exit!].code).toBe(EXIT_CODES.rejected.code);
    expect(EXIT_CODES.rejected.code).not.toBe(0);
  });

  it('an image without a channel tag is rejected without waiting for anything', async () => {
    pointAtRuntime();
    const untagged = await local.world.registerImage('untagged');
    const report = await publishImage(untagged, { eventBusName: local.busName, wait: true, pollMs: 100 });
    expect(report).toMatchObject({ exit: 'rejected', results: [] });
    expect(report.note).toContain('phoenix:channel');
  });
});

describe('the CLI process', () => {
  it('status --watch --until-done off a TTY: one snapshot without escape codes, the exit code of the last outcome', async () => {
    // The fleet `pub` above ended on a rejected publication: exit code 3, at once (no rollout active).
    const base = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !/^(AWS_ENDPOINT_URL|AWS_REGION|AWS_DEFAULT_REGION|PHOENIX_)/.test(key),
      ),
    );
    const run = await promisify(execFile)(
      'node',
      ['bin/phoenix.js', 'status', 'pub', '--watch', '--until-done'],
      {
        cwd: ROOT,
        timeout: 60_000,
        env: {
          ...base,
          NO_COLOR: '',
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_ENDPOINT_URL: local.runtime.endpoint,
          AWS_ENDPOINT_URL_SFN: local.runtime.stepFunctionsEndpoint,
          AWS_DEFAULT_REGION: REGION,
          PHOENIX_TABLE_NAME: local.runtime.resources.tableName!,
          PHOENIX_ROLLOUT_STATE_MACHINE_ARN: local.runtime.resources.stateMachineArn!,
        },
      },
    ).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '' }),
    );
    expect(run.code).toBe(EXIT_CODES.rejected.code);
    expect(run.stdout).toMatch(/^Fleet pub /);
    expect(run.stdout).toContain('✖ rejected');
    expect(run.stdout).not.toContain('\x1b');
  });
});

describe('rollback --wait', () => {
  it('shows the live tree of the fleet while it rolls back, then its outcome and exit', async () => {
    pointAtRuntime();
    const frames: string[] = [];
    const report = await rollbackFleet('pub', {
      wait: true,
      pollMs: 100,
      progress: { write: (text: string) => frames.push(text), isTTY: false },
    });
    expect(report.result).toMatchObject({ outcome: 'succeeded', exit: 'succeeded' });
    const shown = frames.join('');
    expect(shown).toContain(`Rolling back pub to ${report.imageId}`);
    expect(shown).toMatch(/Fleet pub /);
    expect(shown).toContain('group pub-asg');
    expect(shown).not.toContain('\x1b');
  });
});
