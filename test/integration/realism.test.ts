/**
 * The realism layer of the local world (local/realism/phoenix_realism.py) against the emulator,
 * through the SDK as Phoenix's handlers see it: boot time (Pending then InService, a target
 * initial then healthy), broken images (unhealthy + impaired), a bad zone, the world's own
 * failures (an instance dying, Spot interruptions in bulk), CreateLaunchTemplateVersion's
 * ClientToken and SourceVersion, CreateAutoScalingGroup's AlreadyExists, a killed instance's
 * replacement registered in its group's target groups, and API limits (AWS's throttling errors,
 * retried by the SDK's default retry).
 *
 * Boot times are simulated seconds × a time scale (0.01: 100 s simulated are 1 s); every wait is a
 * bounded poll of a condition.
 */
import {
  AttachLoadBalancerTargetGroupsCommand,
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeInstanceStatusCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { GetCommandInvocationCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetEmulator } from '../../local/emulator';
import { type ControlPlaneWorld, freshWorld, REGION } from '../support/control-plane';

let fx: ControlPlaneWorld;
let elb: ElasticLoadBalancingV2Client;

beforeAll(async () => {
  fx = await freshWorld({ outcomes: false });
  elb = new ElasticLoadBalancingV2Client(fx.clientConfig);
  return fx.stop;
});

beforeEach(async () => {
  // Each case starts from the defaults (all off), as every other test file does.
  await fx.world.configureRealism({
    bootSeconds: 0,
    timeScale: 1,
    targetHealthChecks: false,
    badZones: [],
    brokenImages: true,
    throttling: false,
  });
});

/** Poll `probe` until it returns a value `done` accepts (bounded). */
async function until<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function groupInstances(groupName: string) {
  const groups = await fx.clients.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
  );
  return groups.AutoScalingGroups![0]!.Instances ?? [];
}

async function statusOf(instanceId: string): Promise<string | undefined> {
  const status = await fx.clients.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [instanceId] }));
  return status.InstanceStatuses?.[0]?.InstanceStatus?.Status;
}

async function targetGroup(name: string): Promise<string> {
  const { vpcId } = await fx.network();
  const created = await elb.send(
    new CreateTargetGroupCommand({
      Name: name,
      Protocol: 'HTTP',
      Port: 80,
      VpcId: vpcId,
      TargetType: 'instance',
    }),
  );
  return created.TargetGroups![0]!.TargetGroupArn!;
}

async function targetState(arn: string, instanceId: string) {
  const health = await elb.send(
    new DescribeTargetHealthCommand({ TargetGroupArn: arn, Targets: [{ Id: instanceId }] }),
  );
  return health.TargetHealthDescriptions![0]!.TargetHealth!;
}

describe('the realism layer', () => {
  it('keeps its configuration until the emulator is reset, and rejects unknown options', async () => {
    const state = await fx.world.configureRealism({ bootSeconds: 30, timeScale: 0.02 });
    expect(state).toMatchObject({ bootSeconds: 30, timeScale: 0.02, throttling: false });
    expect(await fx.world.realism()).toMatchObject({ bootSeconds: 30 });
    await expect(
      fx.world.configureRealism({ bootSecs: 1 } as unknown as { bootSeconds: number }),
    ).rejects.toThrow(/unknown realism option\(s\): bootSecs/);
  });

  it('boots an instance Pending then InService, status initializing then ok', async () => {
    await fx.world.configureRealism({ bootSeconds: 100, timeScale: 0.01 });
    const image = await fx.world.registerImage('realism-boot');
    const group = await fx.world.createFleet({ fleet: 'boot', imageId: image, size: 1 });
    const [first] = await groupInstances(group);
    expect(first?.LifecycleState).toBe('Pending');
    expect(await statusOf(first!.InstanceId!)).toBe('initializing');
    const booted = await until(
      () => groupInstances(group),
      (instances) => instances[0]?.LifecycleState === 'InService',
    );
    expect(booted[0]).toMatchObject({ InstanceId: first!.InstanceId, HealthStatus: 'Healthy' });
    expect(await statusOf(first!.InstanceId!)).toBe('ok');
  });

  it('keeps a target initial for interval × healthy threshold after boot, then healthy', async () => {
    await fx.world.configureRealism({ bootSeconds: 20, timeScale: 0.01, targetHealthChecks: true });
    const arn = await targetGroup('realism-initial');
    // 10 s × 10 checks = 100 simulated seconds after the boot's 20: 1.2 s.
    await elb.send(
      new ModifyTargetGroupCommand({
        TargetGroupArn: arn,
        HealthCheckIntervalSeconds: 10,
        HealthyThresholdCount: 10,
      }),
    );
    const image = await fx.world.registerImage('realism-target');
    const instanceId = await fx.world.runStrayInstance(image);
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: instanceId }] }));
    expect(await targetState(arn, instanceId)).toMatchObject({
      State: 'initial',
      Reason: 'Elb.RegistrationInProgress',
    });
    await until(
      () => targetState(arn, instanceId),
      (health) => health.State === 'healthy',
    );
  });

  it('fails a broken image: unhealthy in its target group, impaired, Unhealthy in its group', async () => {
    const image = await fx.world.registerImage('realism-broken');
    await fx.world.markImageBroken(image);
    const arn = await targetGroup('realism-broken');
    const instanceId = await fx.world.runStrayInstance(image);
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: instanceId }] }));
    expect(await targetState(arn, instanceId)).toMatchObject({
      State: 'unhealthy',
      Reason: 'Target.FailedHealthChecks',
    });
    expect(await statusOf(instanceId)).toBe('impaired');
    const group = await fx.world.createFleet({ fleet: 'broken', imageId: image, size: 2 });
    const instances = await groupInstances(group);
    expect(instances.map((i) => [i.LifecycleState, i.HealthStatus])).toEqual([
      ['InService', 'Unhealthy'],
      ['InService', 'Unhealthy'],
    ]);
  });

  it('fails an SSM command on an instance of a broken image (with output), and only there; off with brokenImages false', async () => {
    const ssm = new SSMClient(fx.clientConfig);
    const broken = await fx.world.registerImage('realism-ssm-broken');
    await fx.world.markImageBroken(broken);
    const good = await fx.world.registerImage('realism-ssm-good');
    const onBroken = await fx.world.runStrayInstance(broken);
    const onGood = await fx.world.runStrayInstance(good);
    const run = async (instanceId: string) => {
      const sent = await ssm.send(
        new SendCommandCommand({ DocumentName: 'web-smoke', InstanceIds: [instanceId] }),
      );
      return ssm.send(
        new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId!, InstanceId: instanceId }),
      );
    };
    const failed = await run(onBroken);
    expect(failed).toMatchObject({ Status: 'Failed', ResponseCode: 1 });
    expect(failed.StandardErrorContent).toContain(`image ${broken} is broken`);
    expect(await run(onGood)).toMatchObject({ Status: 'Success', ResponseCode: 0 });
    await fx.world.configureRealism({ brokenImages: false });
    expect(await run(onBroken)).toMatchObject({ Status: 'Success' });
  });

  it('creates a launch template version once per ClientToken, inheriting its SourceVersion, as EC2 does', async () => {
    const ec2 = new EC2Client(fx.clientConfig);
    const created = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'realism-lt-token',
        LaunchTemplateData: {
          ImageId: 'ami-11111111',
          InstanceType: 't3.micro',
          MetadataOptions: { HttpTokens: 'required' },
        },
      }),
    );
    const id = created.LaunchTemplate!.LaunchTemplateId!;
    const create = (token: string) =>
      ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: id,
          SourceVersion: '1',
          ClientToken: token,
          LaunchTemplateData: { ImageId: 'ami-22222222' },
        }),
      );
    const first = await create('rollout-a');
    // A retry of the same call (a step that died after its side effect) creates nothing new.
    const retried = await create('rollout-a');
    const other = await create('rollout-b');
    expect(first.LaunchTemplateVersion).toMatchObject({
      VersionNumber: 2,
      LaunchTemplateData: {
        ImageId: 'ami-22222222',
        InstanceType: 't3.micro',
        MetadataOptions: { HttpTokens: 'required' },
      },
    });
    expect(retried.LaunchTemplateVersion?.VersionNumber).toBe(2);
    expect(other.LaunchTemplateVersion?.VersionNumber).toBe(3);
    const versions = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: ['$Latest'] }),
    );
    expect(versions.LaunchTemplateVersions?.[0]?.VersionNumber).toBe(3);
  });

  it('answers AlreadyExists for a group name that exists, and keeps the group and its instances, as Auto Scaling does', async () => {
    const image = await fx.world.registerImage('realism-exists');
    const group = await fx.world.createFleet({ fleet: 'exists', imageId: image, size: 2 });
    const before = (await groupInstances(group)).map((i) => i.InstanceId).sort();
    const asg = new AutoScalingClient(fx.clientConfig);
    // A retry of a call whose first answer was lost (the group was made): moto replaced the group.
    const again = asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: group,
        LaunchTemplate: { LaunchTemplateName: 'exists-lt', Version: '$Latest' },
        MinSize: 3,
        MaxSize: 3,
        DesiredCapacity: 3,
        AvailabilityZones: [`${REGION}a`],
      }),
    );
    await expect(again).rejects.toMatchObject({ name: 'AlreadyExistsFault' });
    await expect(again).rejects.toThrow(/already exists/);
    expect((await groupInstances(group)).map((i) => i.InstanceId).sort()).toEqual(before);
    const running = await fx.clients.ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'image-id', Values: [image] },
          { Name: 'instance-state-name', Values: ['pending', 'running'] },
        ],
      }),
    );
    expect(
      (running.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .map((i) => i.InstanceId)
        .sort(),
    ).toEqual(before);
  });

  it('fails the instances of a bad zone, and only them, until the zone recovers', async () => {
    const image = await fx.world.registerImage('realism-zone');
    const group = await fx.world.createFleet({ fleet: 'zone', imageId: image, size: 2 });
    const instances = await groupInstances(group);
    const bad = instances[0]!.AvailabilityZone!;
    const elsewhere = await fx.clients.ec2.send(
      new RunInstancesCommand({
        ImageId: image,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        Placement: { AvailabilityZone: bad === `${REGION}b` ? `${REGION}c` : `${REGION}b` },
      }),
    );
    const other = elsewhere.Instances![0]!.InstanceId!;
    await fx.world.failZone(bad);
    expect((await fx.world.realism()).badZones).toEqual([bad]);
    for (const i of await groupInstances(group)) {
      expect([i.AvailabilityZone, i.HealthStatus]).toEqual([bad, 'Unhealthy']);
      expect(await statusOf(i.InstanceId!)).toBe('impaired');
    }
    expect(await statusOf(other)).toBe('ok');
    await fx.world.healZone(bad);
    expect((await groupInstances(group)).map((i) => i.HealthStatus)).toEqual(['Healthy', 'Healthy']);
    expect(await statusOf(instances[0]!.InstanceId!)).toBe('ok');
  });

  it('lets the world kill an instance: terminated through EC2, its group replaces it at the same desired capacity', async () => {
    const image = await fx.world.registerImage('realism-kill');
    const group = await fx.world.createFleet({ fleet: 'kill', imageId: image, size: 2 });
    const [victim] = await groupInstances(group);
    await fx.world.killInstance(victim!.InstanceId!);
    const described = await fx.clients.ec2.send(
      new DescribeInstancesCommand({ InstanceIds: [victim!.InstanceId!] }),
    );
    expect(described.Reservations![0]!.Instances![0]!.State!.Name).toBe('terminated');
    const view = await fx.world.viewFleet(group);
    expect(view.desiredCapacity).toBe(2);
    expect(view.instances.map((i) => i.instanceId)).not.toContain(victim!.InstanceId);
    expect(view.instances).toHaveLength(2);
  });

  it("registers a killed instance's replacement in the group's target groups, and nothing it did not launch", async () => {
    const image = await fx.world.registerImage('realism-kill-tg');
    const group = await fx.world.createFleet({ fleet: 'kill-tg', imageId: image, size: 3 });
    const tg = await targetGroup('realism-kill-tg');
    const asg = new AutoScalingClient(fx.clientConfig);
    await asg.send(
      new AttachLoadBalancerTargetGroupsCommand({ AutoScalingGroupName: group, TargetGroupARNs: [tg] }),
    );
    const [victim, drained, kept] = (await groupInstances(group)).map((i) => i.InstanceId!);
    // A caller took one out of the target group to drain it (as Phoenix's drain does).
    await elb.send(new DeregisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: drained! }] }));
    await fx.world.killInstance(victim!);
    const now = (await groupInstances(group)).map((i) => i.InstanceId!);
    const replacement = now.find((id) => ![victim, drained, kept].includes(id));
    expect(replacement).toBeDefined();
    // Auto Scaling registers what it launches: moto registered the replacement nowhere.
    expect((await targetState(tg, replacement!)).State).toBe('healthy');
    expect((await targetState(tg, kept!)).State).toBe('healthy');
    expect((await targetState(tg, drained!)).State).toBe('unused');
  });

  it('puts Spot interruption warnings in bulk on the default bus, in the published shape', async () => {
    const sqs = new SQSClient(fx.clientConfig);
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: 'realism-spot' }));
    const queueArn = (
      await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl!, AttributeNames: ['QueueArn'] }),
      )
    ).Attributes!['QueueArn']!;
    await fx.clients.eventBridge.send(new CreateEventBusCommand({ Name: 'default' })).catch(() => undefined);
    await fx.clients.eventBridge.send(
      new PutRuleCommand({
        Name: 'realism-spot',
        EventPattern: JSON.stringify({
          source: ['aws.ec2'],
          'detail-type': ['EC2 Spot Instance Interruption Warning'],
        }),
      }),
    );
    await fx.clients.eventBridge.send(
      new PutTargetsCommand({ Rule: 'realism-spot', Targets: [{ Id: 'q', Arn: queueArn }] }),
    );
    const ids = Array.from({ length: 12 }, (_, n) => `i-0${String(n).padStart(16, '0')}`);
    expect(await fx.world.interruptSpot(ids)).toHaveLength(12);
    const received: Record<string, unknown>[] = [];
    await until(
      async () => {
        const page = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue.QueueUrl!,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
          }),
        );
        for (const m of page.Messages ?? []) received.push(JSON.parse(m.Body!) as Record<string, unknown>);
        return received.length;
      },
      (count) => count >= 12,
    );
    expect(received[0]).toMatchObject({
      source: 'aws.ec2',
      'detail-type': 'EC2 Spot Instance Interruption Warning',
      detail: { 'instance-action': 'terminate' },
    });
    expect(received.map((e) => (e['detail'] as Record<string, string>)['instance-id']).sort()).toEqual(ids);
  });

  it('answers a burst beyond a bucket with EC2 RequestLimitExceeded (no retries), and the default retry succeeds', async () => {
    await fx.world.configureRealism({ throttling: { 'ec2:DescribeInstances': { burst: 3, rate: 2 } } });
    const noRetry = new EC2Client({ ...fx.clientConfig, maxAttempts: 1 });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => noRetry.send(new DescribeInstancesCommand({}))),
    );
    const errors = results.flatMap((r) =>
      r.status === 'rejected' ? [r.reason as { name: string; $metadata: { httpStatusCode?: number } }] : [],
    );
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]).toMatchObject({ name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } });
    const retrying = new EC2Client(fx.clientConfig);
    await expect(retrying.send(new DescribeInstancesCommand({}))).resolves.toBeDefined();
    expect((await fx.world.realism()).throttledCalls['ec2:DescribeInstances']).toBeGreaterThanOrEqual(1);
  });

  it('answers Auto Scaling beyond its bucket with Throttling (400), retried by the SDK', async () => {
    await fx.world.configureRealism({ throttling: { 'autoscaling:*read': { burst: 2, rate: 5 } } });
    const noRetry = new AutoScalingClient({ ...fx.clientConfig, maxAttempts: 1 });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => noRetry.send(new DescribeAutoScalingGroupsCommand({}))),
    );
    const errors = results.flatMap((r) =>
      r.status === 'rejected' ? [r.reason as { name: string; $metadata: { httpStatusCode?: number } }] : [],
    );
    expect(errors[0]).toMatchObject({ name: 'Throttling', $metadata: { httpStatusCode: 400 } });
    await expect(
      new AutoScalingClient(fx.clientConfig).send(new DescribeAutoScalingGroupsCommand({})),
    ).resolves.toBeDefined();
  });

  it('answers SQS and DynamoDB beyond their buckets with their own JSON throttling errors', async () => {
    await fx.world.configureRealism({
      throttling: { 'sqs:*read': { burst: 0, rate: 0 }, 'dynamodb:*read': { burst: 0, rate: 0 } },
    });
    const sqs = new SQSClient({ ...fx.clientConfig, maxAttempts: 1 });
    await expect(sqs.send(new GetQueueAttributesCommand({ QueueUrl: 'x' }))).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
    const dynamodb = new DynamoDBClient({ ...fx.clientConfig, maxAttempts: 1 });
    await expect(dynamodb.send(new DescribeTableCommand({ TableName: 'x' }))).rejects.toMatchObject({
      name: 'ProvisionedThroughputExceededException',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('counts the calls answered and throttled per API, with the peak per second and per refill period of its bucket', async () => {
    await fx.world.apiCalls({ reset: true });
    await fx.world.configureRealism({ throttling: { 'ec2:DescribeInstances': { burst: 4, rate: 2 } } });
    const noRetry = new EC2Client({ ...fx.clientConfig, maxAttempts: 1 });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => noRetry.send(new DescribeInstancesCommand({}))),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    await new EC2Client(fx.clientConfig).send(new DescribeInstanceStatusCommand({}));
    const calls = await fx.world.apiCalls();
    const described = calls['ec2:DescribeInstances']!;
    expect(described.answered).toBe(ok);
    expect(described.throttled).toBe(10 - ok);
    // A burst of 4 (and at most a token back while the 10 calls ran): never more through than the bucket allows.
    expect(described.answered).toBeGreaterThanOrEqual(4);
    expect(described.peakPerSecond).toBe(described.answered);
    expect(described.bucket).toMatchObject({
      key: 'ec2:DescribeInstances',
      burst: 4,
      rate: 2,
      windowSeconds: 2,
      peakInWindow: described.answered,
      allowedInWindow: 8,
      allowedPerSecond: 6,
    });
    expect(described.bucket!.peakInWindow).toBeLessThanOrEqual(described.bucket!.allowedInWindow);
    // Under the AWS table's `ec2:*read` bucket (this one only overrides DescribeInstances).
    expect(calls['ec2:DescribeInstanceStatus']).toMatchObject({
      answered: 1,
      throttled: 0,
      peakPerSecond: 1,
      bucket: { key: 'ec2:*read', burst: 100, rate: 20, windowSeconds: 5 },
    });
  });

  it('counts calls with the API limits off too (no bucket), and starts over on request', async () => {
    await fx.world.apiCalls({ reset: true });
    for (let i = 0; i < 3; i++) await fx.clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({}));
    const before = await fx.world.apiCalls({ reset: true });
    expect(before['autoscaling:DescribeAutoScalingGroups']).toEqual({
      answered: 3,
      throttled: 0,
      peakPerSecond: 3,
    });
    expect(await fx.world.apiCalls()).toEqual({});
  });

  // Last: a reset forgets the control plane's resources too.
  it('turns every option off again on POST /moto-api/reset', async () => {
    await fx.world.configureRealism({ bootSeconds: 60, badZones: ['us-east-1a'], throttling: true });
    await resetEmulator(fx.endpoint);
    expect(await fx.world.realism()).toEqual({
      bootSeconds: 0,
      timeScale: 1,
      targetHealthChecks: false,
      badZones: [],
      brokenImages: true,
      throttling: false,
      throttledCalls: {},
    });
    expect(await fx.world.apiCalls()).toEqual({});
  });
});
