/**
 * End to end in the local runtime: post-creation image validation (issue 13 §2). The channel
 * `vchan` validates every image in its validation group `vchan-validation` with the SSM document
 * `vchan-smoke` before its fleet sees it. A broken image (the world's tag: its instances turn
 * Unhealthy and any SSM command on them ends Failed, local/realism) is rejected before any fleet
 * launches it: ImageValidationFailed with the command's output, the validation instance gone, the
 * image quarantined (reason validation). A good image validates and the channel's fleet rolls it.
 */
import { CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { CreateDocumentCommand } from '@aws-sdk/client-ssm';
import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { DetailTypes, Tags } from '../../lambdas/domain/contract';
import { worldClients } from '../../local/world';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const CHANNEL = 'vchan';
const GROUP = 'vchan-validation';
const DOCUMENT = 'vchan-smoke';

const local = useLocalRuntime({
  stackProps: {
    controlPlane: {
      channels: {
        [CHANNEL]: { validation: { group: GROUP, testDocument: DOCUMENT, timeout: Duration.minutes(20) } },
      },
    },
  },
});

const clients = () => worldClients({ endpoint: local.endpoint, region: REGION });

/** The deployer's validation group: its launch template tagged phoenix:validation, at 0 at rest. */
async function createValidationGroup(imageId: string): Promise<void> {
  const { ec2, autoScaling, ssm } = clients();
  const lt = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${GROUP}-lt`,
      LaunchTemplateData: { ImageId: imageId, InstanceType: 't3.micro' },
      TagSpecifications: [
        { ResourceType: 'launch-template', Tags: [{ Key: Tags.validation, Value: GROUP }] },
      ],
    }),
  );
  await autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: GROUP,
      MinSize: 0,
      MaxSize: 1,
      DesiredCapacity: 0,
      LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '$Latest' },
      AvailabilityZones: [`${REGION}a`],
    }),
  );
  await ssm.send(
    new CreateDocumentCommand({
      Name: DOCUMENT,
      DocumentType: 'Command',
      Content: JSON.stringify({
        schemaVersion: '2.2',
        description: 'smoke test',
        mainSteps: [
          {
            action: 'aws:runShellScript',
            name: 'smoke',
            inputs: { runCommand: ['curl -fsS localhost/health'] },
          },
        ],
      }),
    }),
  );
}

async function imageTags(imageId: string): Promise<Record<string, string>> {
  const page = await clients().ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  return Object.fromEntries((page.Images?.[0]?.Tags ?? []).map((t) => [t.Key!, t.Value ?? '']));
}

const validationEnd = (imageId: string) =>
  local.outcomes.waitFor(
    (e) =>
      (e.detailType === DetailTypes.ImageValidated || e.detailType === DetailTypes.ImageValidationFailed) &&
      e.detail['imageId'] === imageId,
    120_000,
  );

describe('post-creation image validation', () => {
  it('rejects a broken image before any fleet launches it, then validates a good one and the fleet rolls it', async () => {
    const base = await local.world.registerImage('v-base', CHANNEL);
    await createValidationGroup(base);
    const fleetGroup = await local.world.createFleet({
      fleet: 'v-web',
      imageId: base,
      size: 2,
      channel: CHANNEL,
    });

    // 1. A broken image: validated first, rejected, quarantined; the fleet never sees it.
    const broken = await local.world.registerImage('v-broken', CHANNEL);
    await local.world.markImageBroken(broken);
    const failed = validationEnd(broken);
    const quarantined = local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ImageQuarantined && e.detail['imageId'] === broken,
      120_000,
    );
    await local.world.publishImage(local.busName, broken, CHANNEL);
    const verdict = await failed;
    expect(verdict.detailType).toBe(DetailTypes.ImageValidationFailed);
    expect(verdict.detail).toMatchObject({ imageId: broken, channel: CHANNEL, quarantined: true });
    expect(verdict.detail['output']).toContain(`${DOCUMENT}: Failed`);
    expect(verdict.detail['output']).toContain('is broken');
    expect((await quarantined).detail).toMatchObject({
      reason: 'validation',
      channel: CHANNEL,
      tagged: true,
    });
    expect((await imageTags(broken))[Tags.quarantined]).toBe('validation');
    // The validation instance is gone, and no fleet instance ever ran the broken image.
    expect((await local.world.viewFleet(GROUP)).instances).toEqual([]);
    expect((await local.world.viewFleet(fleetGroup)).instances.every((i) => i.imageId === base)).toBe(true);
    expect(
      local.outcomes.received.some(
        (e) => e.detailType === DetailTypes.RolloutStarted && e.detail['imageId'] === broken,
      ),
    ).toBe(false);

    // 2. A good image: validated, then the channel's fleet rolls it.
    const good = await local.world.registerImage('v-good', CHANNEL);
    const passed = validationEnd(good);
    const rolled = local.outcomes.waitFor(
      (e) =>
        e.detailType === DetailTypes.RolloutSucceeded &&
        e.detail['fleet'] === 'v-web' &&
        e.detail['imageId'] === good,
      120_000,
    );
    await local.world.publishImage(local.busName, good, CHANNEL);
    const ok = await passed;
    expect(ok.detailType).toBe(DetailTypes.ImageValidated);
    expect(ok.detail['output']).toContain(`${DOCUMENT}: Success`);
    expect(ok.detail['started']).toHaveLength(1);
    await rolled;
    expect((await local.world.viewFleet(fleetGroup)).instances.every((i) => i.imageId === good)).toBe(true);
    expect((await local.world.viewFleet(GROUP)).instances).toEqual([]);
  });
});
