/**
 * A small world of fleets and images in the emulator, built the way a user would build it in AWS:
 * through the real APIs (RegisterImage, CreateLaunchTemplate, CreateAutoScalingGroup, tags,
 * PutEvents, PutParameter). The demo, the integration tests and the end-to-end test share it.
 */
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CloudWatchClient,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
  type StateValue,
} from '@aws-sdk/client-cloudwatch';
import {
  CopyImageCommand,
  CreateLaunchTemplateCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RegisterImageCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { randomUUID } from 'node:crypto';
import { CHANNEL_PARAMETER_PREFIX, COMMAND_SOURCE, DetailTypes, Tags } from '../lambdas/domain/contract';
import {
  type ApiCalls,
  BROKEN_IMAGE_TAG,
  configureRealism,
  readApiCalls,
  readRealism,
  type RealismConfig,
  type RealismState,
} from './emulator';

export interface WorldOptions {
  readonly endpoint: string;
  readonly region: string;
}

export interface FleetView {
  readonly groupName: string;
  readonly desiredCapacity: number;
  readonly launchTemplateVersion?: string;
  readonly instances: {
    instanceId: string;
    imageId?: string;
    lifecycleState?: string;
    healthStatus?: string;
  }[];
}

/** Clients for the emulator, with dummy credentials unless real-looking ones are set. */
export function worldClients(options: WorldOptions) {
  const config = {
    region: options.region,
    endpoint: options.endpoint,
    credentials: {
      accessKeyId: process.env['AWS_ACCESS_KEY_ID'] ?? 'testing',
      secretAccessKey: process.env['AWS_SECRET_ACCESS_KEY'] ?? 'testing',
    },
  };
  return {
    ec2: new EC2Client(config),
    autoScaling: new AutoScalingClient(config),
    eventBridge: new EventBridgeClient(config),
    ssm: new SSMClient(config),
    cloudWatch: new CloudWatchClient(config),
  };
}

/**
 * EC2 reports an image's CreationDate to the second, and a rollout accepts only an image newer than
 * the fleet's: two images registered one after the other get distinct seconds (the second waits
 * until the second in which the previous registration was answered is over).
 */
let lastImageSecond = 0;
async function nextImageSecond(): Promise<void> {
  for (;;) {
    const now = Date.now();
    if (Math.floor(now / 1000) > lastImageSecond) return;
    await new Promise((resolve) => setTimeout(resolve, 1000 - (now % 1000) + 5));
  }
}
function imageRegistered(): void {
  lastImageSecond = Math.floor(Date.now() / 1000);
}

export class World {
  private readonly clients: ReturnType<typeof worldClients>;

  constructor(private readonly options: WorldOptions) {
    this.clients = worldClients(options);
  }

  /**
   * Register a new AMI (available at once in the emulator), optionally tagged into a channel. The
   * emulator's RegisterImage records no architecture; with `architecture`, the image is instead a
   * copy (CopyImage, owned by this account) of one of the emulator's Amazon images of that
   * architecture (hvm), which does report it.
   */
  async registerImage(
    name: string,
    channel?: string,
    options: { architecture?: 'x86_64' | 'arm64' } = {},
  ): Promise<string> {
    await nextImageSecond();
    if (options.architecture !== undefined) {
      const sources = await this.clients.ec2.send(
        new DescribeImagesCommand({
          Owners: ['amazon'],
          Filters: [
            { Name: 'architecture', Values: [options.architecture] },
            { Name: 'virtualization-type', Values: ['hvm'] },
          ],
        }),
      );
      const source = sources.Images?.find((i) => i.ImageId)?.ImageId;
      if (!source)
        throw new Error(`the emulator has no Amazon image of architecture ${options.architecture}`);
      const copy = await this.clients.ec2.send(
        new CopyImageCommand({ Name: name, SourceImageId: source, SourceRegion: this.options.region }),
      );
      imageRegistered();
      if (channel !== undefined) await this.tagImage(copy.ImageId!, channel);
      return copy.ImageId!;
    }
    const result = await this.clients.ec2.send(
      new RegisterImageCommand({
        Name: name,
        Architecture: 'x86_64',
        RootDeviceName: '/dev/xvda',
        VirtualizationType: 'hvm',
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 8, Encrypted: true } }],
      }),
    );
    imageRegistered();
    const imageId = result.ImageId!;
    if (channel !== undefined) await this.tagImage(imageId, channel);
    return imageId;
  }

  /** Put an AMI into a channel: the tag `phoenix:channel=<channel>`. */
  async tagImage(imageId: string, channel: string): Promise<void> {
    await this.clients.ec2.send(
      new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: Tags.channel, Value: channel }] }),
    );
  }

  /**
   * A fleet as a team would have it: a launch template on `imageId` and an Auto Scaling group of
   * `size` instances (min = max = desired), tagged `phoenix:fleet=<fleet>`.
   */
  async createFleet(args: {
    fleet: string;
    imageId: string;
    size: number;
    channel?: string;
    /** Default `<fleet>-asg`; its launch template is `<fleet>-lt` (or `<groupName>-lt` when named). */
    groupName?: string;
    /** More group tags, e.g. the fleet settings (`phoenix:max-surge`…). */
    tags?: Record<string, string>;
    /** Tag the launch template `phoenix:fleet` too, as the adoption contract asks (default true). */
    tagLaunchTemplate?: boolean;
  }): Promise<string> {
    const groupName = args.groupName ?? `${args.fleet}-asg`;
    const lt = await this.clients.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: args.groupName === undefined ? `${args.fleet}-lt` : `${args.groupName}-lt`,
        LaunchTemplateData: {
          ImageId: args.imageId,
          InstanceType: 't3.micro',
          MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
        },
        // The adoption contract: Phoenix versions only launch templates tagged phoenix:fleet.
        ...(args.tagLaunchTemplate === false
          ? {}
          : {
              TagSpecifications: [
                { ResourceType: 'launch-template', Tags: [{ Key: Tags.fleet, Value: args.fleet }] },
              ],
            }),
      }),
    );
    const tags: { Key: string; Value: string }[] = [{ Key: Tags.fleet, Value: args.fleet }];
    if (args.channel !== undefined) tags.push({ Key: Tags.channel, Value: args.channel });
    for (const [Key, Value] of Object.entries(args.tags ?? {})) tags.push({ Key, Value });
    await this.clients.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: groupName,
        MinSize: args.size,
        MaxSize: args.size,
        DesiredCapacity: args.size,
        LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '$Latest' },
        AvailabilityZones: [`${this.options.region}a`, `${this.options.region}b`],
        Tags: tags.map((t) => ({
          ...t,
          PropagateAtLaunch: true,
          ResourceId: groupName,
          ResourceType: 'auto-scaling-group',
        })),
      }),
    );
    return groupName;
  }

  /** Tag an Auto Scaling group (e.g. `phoenix:image-parameter`). */
  async tagGroup(groupName: string, key: string, value: string): Promise<void> {
    await this.clients.autoScaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          {
            ResourceId: groupName,
            ResourceType: 'auto-scaling-group',
            Key: key,
            Value: value,
            PropagateAtLaunch: false,
          },
        ],
      }),
    );
  }

  /** Tag an AMI with any tag (e.g. the `Ec2ImageBuilderArn` Image Builder puts on its AMIs). */
  async tagImageWith(imageId: string, key: string, value: string): Promise<void> {
    await this.clients.ec2.send(
      new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: key, Value: value }] }),
    );
  }

  /** An instance outside any Auto Scaling group. */
  async runStrayInstance(imageId: string): Promise<string> {
    const result = await this.clients.ec2.send(
      new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }),
    );
    return result.Instances![0]!.InstanceId!;
  }

  /** Create or update an SSM parameter holding an AMI id (no event: see `setChannelParameter`). */
  async putParameter(name: string, imageId: string): Promise<void> {
    await this.clients.ssm.send(
      new PutParameterCommand({
        Name: name,
        Value: imageId,
        Type: 'String',
        DataType: 'aws:ec2:image',
        Overwrite: true,
      }),
    );
  }

  /** Which instances the group has, and which image each runs (from EC2). */
  async viewFleet(groupName: string): Promise<FleetView> {
    const groups = await this.clients.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
    );
    const group = groups.AutoScalingGroups?.[0];
    if (!group) throw new Error(`no Auto Scaling group ${groupName} in the emulator`);
    const ids = (group.Instances ?? []).map((i) => i.InstanceId!).filter(Boolean);
    const images = new Map<string, string | undefined>();
    if (ids.length > 0) {
      const described = await this.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
      for (const r of described.Reservations ?? [])
        for (const i of r.Instances ?? []) images.set(i.InstanceId!, i.ImageId);
    }
    return {
      groupName,
      desiredCapacity: group.DesiredCapacity ?? 0,
      ...(group.LaunchTemplate?.Version !== undefined
        ? { launchTemplateVersion: group.LaunchTemplate.Version }
        : {}),
      instances: (group.Instances ?? []).map((i) => ({
        instanceId: i.InstanceId!,
        imageId: images.get(i.InstanceId!),
        lifecycleState: i.LifecycleState,
        healthStatus: i.HealthStatus,
      })),
    };
  }

  async imageName(imageId: string): Promise<string | undefined> {
    const result = await this.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    return result.Images?.[0]?.Name;
  }

  /**
   * Announce an image as EC2 does: an "EC2 AMI State Change" event on the default bus, shaped as
   * the published sample (docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitor-ami-events.html).
   */
  async announceImage(imageId: string): Promise<string> {
    return this.putEvent({
      Source: 'aws.ec2',
      DetailType: 'EC2 AMI State Change',
      Resources: [`arn:aws:ec2:${this.options.region}::image/${imageId}`],
      Detail: JSON.stringify({
        RequestId: randomUUID(),
        ImageId: imageId,
        State: 'available',
        ErrorMessage: '',
      }),
    });
  }

  /** The Phoenix `PublishImage` command on the Phoenix bus. */
  async publishImage(busName: string, imageId: string, channel?: string): Promise<string> {
    return this.putEvent({
      EventBusName: busName,
      Source: COMMAND_SOURCE,
      DetailType: DetailTypes.PublishImage,
      Detail: JSON.stringify({ imageId, ...(channel !== undefined ? { channel } : {}) }),
    });
  }

  /**
   * Point a channel's golden-AMI parameter at an image; returns the parameter's new version. As in
   * AWS, Parameter Store itself then emits the "Parameter Store Change" event to the default bus
   * (the emulator's realism layer does, local/realism/phoenix_realism.py).
   */
  async setChannelParameter(channel: string, imageId: string): Promise<number> {
    const result = await this.clients.ssm.send(
      new PutParameterCommand({
        Name: `${CHANNEL_PARAMETER_PREFIX}${channel}`,
        Value: imageId,
        Type: 'String',
        DataType: 'aws:ec2:image',
        Overwrite: true,
      }),
    );
    return result.Version ?? 1;
  }

  /** A CloudWatch metric alarm (state INSUFFICIENT_DATA until set), e.g. one that gates rollouts. */
  async createAlarm(name: string): Promise<void> {
    await this.clients.cloudWatch.send(
      new PutMetricAlarmCommand({
        AlarmName: name,
        Namespace: 'Phoenix/Test',
        MetricName: 'Errors',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    );
  }

  /** Set an alarm's state as CloudWatch would on a breach (SetAlarmState). */
  async setAlarmState(name: string, state: StateValue): Promise<void> {
    await this.clients.cloudWatch.send(
      new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: 'set by a test' }),
    );
  }

  // ---- the world's realism and its own failures (local/realism/phoenix_realism.py) -------------

  /** The emulator's realism configuration. */
  realism(): Promise<RealismState> {
    return readRealism(this.options.endpoint);
  }

  /** Merge options into the emulator's realism configuration (boot time, API limits…). */
  configureRealism(config: RealismConfig): Promise<RealismState> {
    return configureRealism(this.options.endpoint, config);
  }

  /** The calls answered and throttled per `service:Action`, with their peak rates; `{ reset: true }`: then start over. */
  apiCalls(options?: { reset?: boolean }): Promise<ApiCalls> {
    return readApiCalls(this.options.endpoint, options);
  }

  /**
   * Mark an AMI broken (the world's tag `phoenix-world:broken=true`, never read by Phoenix): its
   * instances fail their target groups' health checks and EC2's status checks.
   */
  async markImageBroken(imageId: string): Promise<void> {
    await this.tagImageWith(imageId, BROKEN_IMAGE_TAG, 'true');
  }

  /** An availability zone goes bad: its instances turn unhealthy in their target groups and impaired. */
  async failZone(zone: string): Promise<void> {
    const { badZones } = await this.realism();
    await this.configureRealism({ badZones: [...new Set([...badZones, zone])] });
  }

  /** The zone recovers. */
  async healZone(zone: string): Promise<void> {
    const { badZones } = await this.realism();
    await this.configureRealism({ badZones: badZones.filter((z) => z !== zone) });
  }

  /**
   * Spot interruptions in bulk: one "EC2 Spot Instance Interruption Warning" per instance on the
   * default bus, shaped as the published sample
   * (docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html;
   * /work/shared/fixtures/aws-events/ec2-spot-interruption-warning/1.json). Returns the event ids.
   */
  async interruptSpot(
    instanceIds: readonly string[],
    action: 'terminate' | 'stop' | 'hibernate' = 'terminate',
  ): Promise<string[]> {
    const ids: string[] = [];
    // PutEvents takes at most 10 entries per call.
    for (let start = 0; start < instanceIds.length; start += 10) {
      const entries = instanceIds.slice(start, start + 10).map((instanceId) => ({
        Source: 'aws.ec2',
        DetailType: 'EC2 Spot Instance Interruption Warning',
        Resources: [`arn:aws:ec2:${this.options.region}:123456789012:instance/${instanceId}`],
        Detail: JSON.stringify({ 'instance-id': instanceId, 'instance-action': action }),
      }));
      const result = await this.clients.eventBridge.send(new PutEventsCommand({ Entries: entries }));
      if ((result.FailedEntryCount ?? 0) > 0) {
        throw new Error(`PutEvents failed: ${JSON.stringify(result.Entries)}`);
      }
      for (const entry of result.Entries ?? []) if (entry.EventId !== undefined) ids.push(entry.EventId);
    }
    return ids;
  }

  /**
   * An instance dies: terminated by the world through EC2 (not through Auto Scaling's
   * TerminateInstanceInAutoScalingGroup, so the group's desired capacity is not decremented); the
   * emulator's group drops it and launches a replacement, as Auto Scaling does.
   */
  async killInstance(instanceId: string): Promise<void> {
    await this.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  }

  /** Put any event as given (for tests of what Phoenix does with bad input). */
  async putRaw(
    entry: NonNullable<ConstructorParameters<typeof PutEventsCommand>[0]['Entries']>[number],
  ): Promise<string> {
    return this.putEvent(entry);
  }

  /** Put one event; returns the id EventBridge gave it. */
  private async putEvent(
    entry: NonNullable<ConstructorParameters<typeof PutEventsCommand>[0]['Entries']>[number],
  ): Promise<string> {
    const result = await this.clients.eventBridge.send(new PutEventsCommand({ Entries: [entry] }));
    const eventId = result.Entries?.[0]?.EventId;
    if ((result.FailedEntryCount ?? 0) > 0 || eventId === undefined) {
      throw new Error(`PutEvents failed: ${JSON.stringify(result.Entries)}`);
    }
    return eventId;
  }
}
