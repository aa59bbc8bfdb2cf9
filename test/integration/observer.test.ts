/**
 * The invariant observer (local/invariants/observer.ts) against the emulator: an instance that
 * runs outside every group is a stray (an orphan at rest), and a group that launches instances
 * between the observer's two reads (groups, then instances) makes none. The race is played through
 * real APIs: a proxy in front of the emulator creates the group just before it forwards the
 * observer's first DescribeInstances.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tags } from '../../lambdas/domain/contract';
import type { FleetExpectation } from '../../local/invariants/checks';
import { startObserver } from '../../local/invariants/observer';
import type { World } from '../../local/world';
import { type ControlPlaneWorld, freshWorld, neverEnds, REGION } from '../support/control-plane';

let fx: ControlPlaneWorld;
let world: World;
let imageId: string;

beforeAll(async () => {
  // A local Step Functions service (its executions never run here): the observer lists executions.
  fx = await freshWorld({ outcomes: false, tasks: neverEnds });
  world = fx.world;
  imageId = await world.registerImage('observer-base');
  return fx.stop;
});

/** A proxy to the emulator that runs `before` once, ahead of the first request whose body matches. */
async function proxyWithHook(upstream: string, match: RegExp, before: () => Promise<void>) {
  const target = new URL(upstream);
  let fired = false;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const go = async () => {
        if (!fired && match.test(body.toString('utf8'))) {
          fired = true;
          await before();
        }
        const forward = http.request(
          {
            hostname: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        forward.on('error', () => res.destroy());
        forward.end(body);
      };
      go().catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    get fired() {
      return fired;
    },
  };
}

function observe(endpoint: string, fleets: FleetExpectation[]) {
  const arn = fx.stateMachineArn('Rollout');
  return startObserver({
    endpoint,
    stepFunctionsEndpoint: fx.service.endpoint,
    region: REGION,
    tableName: fx.model.tables[0]!.name,
    rolloutStateMachineArn: arn,
    replaceStateMachineArn: fx.stateMachineArn('Replace'),
    fleets,
    world: { killed: new Set() },
    // Only the snapshots asked for: the race below is played on this test's own one.
    continuous: false,
  });
}

const expectation = (fleet: string): FleetExpectation => ({
  fleet,
  capacity: 2,
  minHealthyPercent: 100,
  initialImage: imageId,
  initialLaunchTemplateVersion: 1,
});

describe('the observer: strays', () => {
  let closeLater: (() => Promise<void>) | undefined;
  afterAll(async () => closeLater?.());

  it('reports an instance of a fleet that runs outside every group, and not once it is gone', async () => {
    await world.createFleet({ fleet: 'obs-a', imageId, size: 2 });
    const stray = await world.runStrayInstance(imageId);
    await fx.clients.ec2.send(
      new CreateTagsCommand({ Resources: [stray], Tags: [{ Key: Tags.fleet, Value: 'obs-a' }] }),
    );
    const observer = observe(fx.endpoint, [expectation('obs-a')]);
    try {
      const snap = await observer.snapshot();
      expect(snap.strays).toEqual([{ id: stray, fleet: 'obs-a' }]);
      await world.killInstance(stray);
      expect((await observer.snapshot()).strays).toEqual([]);
    } finally {
      await observer.stop();
    }
  });

  it('makes no stray of a group created between its read of the groups and its read of the instances', async () => {
    const proxy = await proxyWithHook(fx.endpoint, /Action=DescribeInstances/, async () => {
      await world.createFleet({ fleet: 'obs-b', imageId, size: 2 });
    });
    closeLater = proxy.close;
    const observer = observe(proxy.endpoint, [expectation('obs-b')]);
    try {
      const snap = await observer.snapshot();
      expect(proxy.fired).toBe(true);
      // The group came after the groups were read: the snapshot does not hold it, and its two
      // instances (running, tagged with the fleet) are in a group when asked again.
      expect(snap.fleets.find((f) => f.fleet === 'obs-b')?.groups ?? []).toEqual([]);
      expect(snap.strays).toEqual([]);
    } finally {
      await observer.stop();
    }
  });
});
