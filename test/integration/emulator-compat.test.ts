/**
 * Every SDK v3 client Phoenix uses, against the emulator (moto 5.2.5), for the calls Phoenix makes.
 * If an upgrade of moto or of the SDK breaks one of them, this file says which.
 */
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, describe, expect, it } from 'vitest';
import { useEmulator } from '../support/emulator';

const emulator = useEmulator();
const config = () => emulator.clientConfig();
const ec2 = new EC2Client(config());
const autoScaling = new AutoScalingClient(config());
const dynamo = new DynamoDBClient(config());
const events = new EventBridgeClient(config());
const sqs = new SQSClient(config());
const ssm = new SSMClient(config());

afterAll(() => {
  for (const client of [ec2, autoScaling, dynamo, events, sqs, ssm]) client.destroy();
});

/**
 * Emulator quirk (moto 5.2.5): RegisterImage ignores TagSpecifications (the image has no tags);
 * CreateImage honours them. Tag registered images with CreateTags.
 */
async function registerImage(name: string, channel: string): Promise<string> {
  const result = await ec2.send(
    new RegisterImageCommand({
      Name: name,
      Architecture: 'x86_64',
      RootDeviceName: '/dev/xvda',
      VirtualizationType: 'hvm',
    }),
  );
  await ec2.send(
    new CreateTagsCommand({
      Resources: [result.ImageId!],
      Tags: [{ Key: 'phoenix:channel', Value: channel }],
    }),
  );
  return result.ImageId!;
}

describe('EC2 and Auto Scaling', () => {
  it('images, launch template versions, and a tagged group that launches from its template', async () => {
    const oldImage = await registerImage('web-1', 'web');
    const newImage = await registerImage('web-2', 'web');
    const tagged = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'tag:phoenix:channel', Values: ['web'] }],
      }),
    );
    expect(tagged.Images?.map((i) => i.ImageId).sort()).toEqual([oldImage, newImage].sort());
    expect(tagged.Images?.every((i) => i.State === 'available')).toBe(true);

    const template = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'web',
        LaunchTemplateData: { ImageId: oldImage, InstanceType: 't3.micro' },
      }),
    );
    const templateId = template.LaunchTemplate!.LaunchTemplateId!;
    const version = await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: templateId,
        SourceVersion: '1',
        LaunchTemplateData: { ImageId: newImage },
      }),
    );
    expect(version.LaunchTemplateVersion?.VersionNumber).toBe(2);
    const versions = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId, Versions: ['1', '2'] }),
    );
    expect(
      versions.LaunchTemplateVersions?.map((v) => [v.VersionNumber, v.LaunchTemplateData?.ImageId]),
    ).toEqual([
      [1, oldImage],
      [2, newImage],
    ]);

    await autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'web',
        MinSize: 1,
        MaxSize: 6,
        DesiredCapacity: 2,
        AvailabilityZones: [`${emulator.region}a`],
        LaunchTemplate: { LaunchTemplateId: templateId, Version: '1' },
        Tags: [{ Key: 'phoenix:fleet', Value: 'web', PropagateAtLaunch: true }],
      }),
    );
    const group = async () =>
      (await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['web'] })))
        .AutoScalingGroups![0]!;
    const imagesOf = async (ids: string[]) => {
      const result = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
      return result.Reservations!.flatMap((r) => r.Instances!).map((i) => i.ImageId);
    };
    let g = await group();
    expect(g.Tags?.map((t) => [t.Key, t.Value])).toEqual([['phoenix:fleet', 'web']]);
    expect(g.Instances?.every((i) => i.LifecycleState === 'InService' && i.HealthStatus === 'Healthy')).toBe(
      true,
    );
    const original = g.Instances!.map((i) => i.InstanceId!);
    expect(await imagesOf(original)).toEqual([oldImage, oldImage]);

    // Surge onto version 2: the new instances run the new image at once.
    await autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: 'web',
        LaunchTemplate: { LaunchTemplateId: templateId, Version: '2' },
      }),
    );
    await autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: 'web', DesiredCapacity: 4 }),
    );
    g = await group();
    const surged = g.Instances!.map((i) => i.InstanceId!).filter((id) => !original.includes(id));
    expect(surged).toHaveLength(2);
    expect(await imagesOf(surged)).toEqual([newImage, newImage]);

    // Retire the old ones, decrementing.
    for (const id of original) {
      await autoScaling.send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: id,
          ShouldDecrementDesiredCapacity: true,
        }),
      );
    }
    g = await group();
    expect(g.DesiredCapacity).toBe(2);
    expect(g.Instances!.map((i) => i.InstanceId).sort()).toEqual([...surged].sort());
  });
});

describe('DynamoDB', () => {
  it('conditional writes fail with ConditionalCheckFailedException', async () => {
    await dynamo.send(
      new CreateTableCommand({
        TableName: 'fleets',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const lock = () =>
      dynamo.send(
        new PutItemCommand({
          TableName: 'fleets',
          Item: { pk: { S: 'FLEET#web' }, owner: { S: 'a' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await lock();
    await expect(lock()).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    const updated = await dynamo.send(
      new UpdateItemCommand({
        TableName: 'fleets',
        Key: { pk: { S: 'FLEET#web' } },
        UpdateExpression: 'SET #o = :b',
        ConditionExpression: '#o = :a',
        ExpressionAttributeNames: { '#o': 'owner' },
        ExpressionAttributeValues: { ':a': { S: 'a' }, ':b': { S: 'b' } },
        ReturnValues: 'ALL_NEW',
      }),
    );
    expect(updated.Attributes?.owner?.S).toBe('b');
    const read = await dynamo.send(
      new GetItemCommand({ TableName: 'fleets', Key: { pk: { S: 'FLEET#web' } }, ConsistentRead: true }),
    );
    expect(read.Item?.owner?.S).toBe('b');
  });

  it('concurrent conditional updates of one item are atomic: a slot under budget 1 is taken once', async () => {
    // DynamoDB's semantics, which the disruption budget and the locks rely on; moto gets them from
    // the lock around DynamoDB requests in local/emulator.ts. The item does not exist yet: the first
    // update creates it, as the first replacement of a fleet does.
    await dynamo.send(
      new CreateTableCommand({
        TableName: 'slots',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    for (let round = 0; round < 10; round++) {
      const pk = { S: `SLOT#${round}` };
      const takes = await Promise.allSettled(
        Array.from({ length: 24 }, () =>
          dynamo.send(
            new UpdateItemCommand({
              TableName: 'slots',
              Key: { pk },
              UpdateExpression: 'SET n = if_not_exists(n, :zero) + :one',
              ConditionExpression: 'attribute_not_exists(n) OR n < :budget',
              ExpressionAttributeValues: { ':zero': { N: '0' }, ':one': { N: '1' }, ':budget': { N: '1' } },
            }),
          ),
        ),
      );
      expect(takes.filter((t) => t.status === 'fulfilled')).toHaveLength(1);
      for (const t of takes) {
        if (t.status === 'rejected') expect(t.reason).toBeInstanceOf(ConditionalCheckFailedException);
      }
      const read = await dynamo.send(
        new GetItemCommand({ TableName: 'slots', Key: { pk }, ConsistentRead: true }),
      );
      expect(read.Item?.n?.N).toBe('1');
    }
  });
});

describe('EventBridge, SQS and SSM', () => {
  it('a rule with prefix matching on a custom bus delivers matching events to its SQS target only', async () => {
    await events.send(new CreateEventBusCommand({ Name: 'compat-bus' }));
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: 'compat-target' }));
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    await events.send(
      new PutRuleCommand({
        Name: 'channels',
        EventBusName: 'compat-bus',
        EventPattern: JSON.stringify({
          source: ['aws.ssm'],
          'detail-type': ['Parameter Store Change'],
          detail: { name: [{ prefix: '/phoenix/channels/' }] },
        }),
      }),
    );
    await events.send(
      new PutTargetsCommand({
        Rule: 'channels',
        EventBusName: 'compat-bus',
        Targets: [{ Id: 'q', Arn: attributes.Attributes!.QueueArn }],
      }),
    );
    const entry = (name: string) => ({
      EventBusName: 'compat-bus',
      Source: 'aws.ssm',
      DetailType: 'Parameter Store Change',
      Detail: JSON.stringify({ name, operation: 'Update' }),
    });
    const put = await events.send(
      new PutEventsCommand({ Entries: [entry('/other/web'), entry('/phoenix/channels/web')] }),
    );
    expect(put.FailedEntryCount).toBe(0);
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
    );
    const names = received.Messages?.map(
      (m) => (JSON.parse(m.Body!) as { detail: { name: string } }).detail.name,
    );
    expect(names).toEqual(['/phoenix/channels/web']);
    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl: queue.QueueUrl,
        ReceiptHandle: received.Messages![0]!.ReceiptHandle,
      }),
    );
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.QueueUrl,
        MessageBody: '{}',
        MessageAttributes: { ErrorCode: { DataType: 'Number', StringValue: '200' } },
      }),
    );
    const attributed = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.QueueUrl,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
      }),
    );
    expect(attributed.Messages?.[0]?.MessageAttributes?.ErrorCode?.StringValue).toBe('200');
  });

  it('SSM keeps a channel parameter with data type aws:ec2:image', async () => {
    const image = await registerImage('api-1', 'api');
    const put = await ssm.send(
      new PutParameterCommand({
        Name: '/phoenix/channels/api',
        Type: 'String',
        DataType: 'aws:ec2:image',
        Value: image,
        Overwrite: true,
      }),
    );
    expect(put.Version).toBe(1);
    const read = await ssm.send(new GetParameterCommand({ Name: '/phoenix/channels/api' }));
    expect(read.Parameter).toMatchObject({ Value: image, DataType: 'aws:ec2:image', Version: 1 });
  });
});
