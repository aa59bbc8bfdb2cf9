/**
 * Channels for promotion (issue 13): their parameters `/phoenix/channels/<channel>` (read in
 * batches of 10, written like any user would: PutParameter, data type `aws:ec2:image`, whose
 * versions are the audit trail), their images (one DescribeImages for all: creation dates and the
 * quarantine tag), and their records in the fleet table (`CHANNEL#<channel>`: promotions,
 * approvals, the last announced waiting/blocked notice, the declared rule), written with
 * conditional updates so that two concurrent checks promote once.
 */
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { GetParametersByPathCommand, GetParametersCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { CHANNEL_PARAMETER_PREFIX, Tags } from '../domain/contract';
import type { Approval, PromotionRule } from '../domain/promotion';
import { chunks } from '../domain/reconcile';
import { aws } from './errors';
import { dynamo, ec2, ssm } from './clients';
import { conditionalUpdate, fromItem, table, toAttr } from './store/items';

export const channelKey = (channel: string) => `CHANNEL#${channel}`;
export const channelParameter = (channel: string) => `${CHANNEL_PARAMETER_PREFIX}${channel}`;

/** One promotion into the channel (key: the image id). */
export interface PromotionMark {
  readonly from: string;
  /** ISO-8601: when it was claimed. */
  readonly at: string;
  /** The parameter's version it wrote (absent while claimed, before PutParameter answered). */
  readonly version?: number;
}

export interface ChannelRecord {
  readonly channel: string;
  readonly promotions: Readonly<Record<string, PromotionMark>>;
  readonly approvals: Readonly<Record<string, { readonly by: string; readonly at: string }>>;
  /** The last waiting/blocked notice announced (its dedupe key). */
  readonly notice?: { readonly key: string; readonly at: string };
  /** The channel's promotion rule as the promote function last saw it (for `phoenix channels`). */
  readonly rule?: PromotionRule;
}

const objectOr = (v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});

function parseChannelRecord(channel: string, item: Record<string, unknown> | undefined): ChannelRecord {
  const notice = item?.['notice'] as ChannelRecord['notice'] | undefined;
  const rule = item?.['rule'] as PromotionRule | undefined;
  return {
    channel,
    promotions: objectOr(item?.['promotions']) as ChannelRecord['promotions'],
    approvals: objectOr(item?.['approvals']) as ChannelRecord['approvals'],
    ...(notice !== undefined && notice !== null ? { notice } : {}),
    ...(rule !== undefined && rule !== null ? { rule } : {}),
  };
}

/** The channel's record (an empty one when absent). */
export async function readChannelRecord(channel: string): Promise<ChannelRecord> {
  const result = await aws('GetItem', () =>
    dynamo().send(
      new GetItemCommand({
        TableName: table(),
        Key: { pk: { S: channelKey(channel) } },
        ConsistentRead: true,
      }),
    ),
  );
  return parseChannelRecord(channel, result.Item !== undefined ? fromItem(result.Item) : undefined);
}

/** Every channel record (a Scan of the `CHANNEL#` items: for `phoenix channels`, not for the check). */
export async function scanChannelRecords(): Promise<ChannelRecord[]> {
  const out: ChannelRecord[] = [];
  let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
  do {
    const page = await aws('Scan', () =>
      dynamo().send(
        new ScanCommand({
          TableName: table(),
          FilterExpression: 'begins_with(pk, :p)',
          ExpressionAttributeValues: { ':p': { S: 'CHANNEL#' } },
          ExclusiveStartKey: start,
        }),
      ),
    );
    for (const item of page.Items ?? []) {
      const pk = item['pk']?.S ?? '';
      out.push(parseChannelRecord(pk.slice('CHANNEL#'.length), fromItem(item)));
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return out.sort((a, b) => a.channel.localeCompare(b.channel));
}

/** The approvals of the record, as the rule reads them. */
export function approvalsOf(record: ChannelRecord): Approval[] {
  return Object.entries(record.approvals).map(([imageId, a]) => ({ imageId, by: a.by, at: a.at }));
}

const channelUpdate = (channel: string) => ({
  TableName: table(),
  Key: { pk: { S: channelKey(channel) } },
});

/**
 * Claim the promotion of `imageId` into `channel`: true for the one check whose conditional
 * update applied (the image was never promoted into it), false for every other.
 */
export function claimPromotion(channel: string, imageId: string, from: string, now: Date): Promise<boolean> {
  return conditionalUpdate({
    ...channelUpdate(channel),
    UpdateExpression: 'SET channel = :c, promotions = if_not_exists(promotions, :empty), updatedAt = :now',
    ExpressionAttributeValues: {
      ':c': toAttr(channel),
      ':empty': { M: {} },
      ':now': toAttr(now.toISOString()),
    },
  }).then(() =>
    conditionalUpdate({
      ...channelUpdate(channel),
      UpdateExpression: 'SET promotions.#img = :mark',
      ConditionExpression: 'attribute_not_exists(promotions.#img)',
      ExpressionAttributeNames: { '#img': imageId },
      ExpressionAttributeValues: { ':mark': toAttr({ from, at: now.toISOString() }) },
    }),
  );
}

/** The parameter version the promotion wrote (after PutParameter). */
export async function completePromotion(channel: string, imageId: string, version: number): Promise<void> {
  await conditionalUpdate({
    ...channelUpdate(channel),
    UpdateExpression: 'SET promotions.#img.version = :v',
    ConditionExpression: 'attribute_exists(promotions.#img)',
    ExpressionAttributeNames: { '#img': imageId },
    ExpressionAttributeValues: { ':v': toAttr(version) },
  });
}

/** Give a claim back (PutParameter failed): the next check may promote the image again. */
export async function releasePromotion(channel: string, imageId: string): Promise<void> {
  await conditionalUpdate({
    ...channelUpdate(channel),
    UpdateExpression: 'REMOVE promotions.#img',
    ConditionExpression:
      'attribute_exists(promotions.#img) AND attribute_not_exists(promotions.#img.version)',
    ExpressionAttributeNames: { '#img': imageId },
  });
}

/**
 * Remember `key` as the channel's last announced notice (and its rule): true when it changed
 * (announce it), false when it was already the last one (two concurrent checks announce once).
 */
export function recordNotice(channel: string, key: string, rule: PromotionRule, now: Date): Promise<boolean> {
  return conditionalUpdate({
    ...channelUpdate(channel),
    UpdateExpression: 'SET channel = :c, notice = :n, #rule = :r, updatedAt = :now',
    ConditionExpression: 'attribute_not_exists(notice) OR notice.#k <> :k',
    ExpressionAttributeNames: { '#k': 'key', '#rule': 'rule' },
    ExpressionAttributeValues: {
      ':c': toAttr(channel),
      ':n': toAttr({ key, at: now.toISOString() }),
      ':k': toAttr(key),
      ':r': toAttr(rule),
      ':now': toAttr(now.toISOString()),
    },
  });
}

/** Remember the channel's rule when it changed (so `phoenix channels` can show it). */
export async function recordRule(channel: string, rule: PromotionRule, now: Date): Promise<void> {
  await conditionalUpdate({
    ...channelUpdate(channel),
    UpdateExpression: 'SET channel = :c, #rule = :r, updatedAt = :now',
    ExpressionAttributeNames: { '#rule': 'rule' },
    ExpressionAttributeValues: {
      ':c': toAttr(channel),
      ':r': toAttr(rule),
      ':now': toAttr(now.toISOString()),
    },
  });
}

/** `phoenix approve`: record who approved `imageId` for `channel`, and when (kept as first given). */
export function recordApproval(channel: string, imageId: string, by: string, now: Date): Promise<boolean> {
  return conditionalUpdate({
    ...channelUpdate(channel),
    UpdateExpression: 'SET channel = :c, approvals = if_not_exists(approvals, :empty), updatedAt = :now',
    ExpressionAttributeValues: {
      ':c': toAttr(channel),
      ':empty': { M: {} },
      ':now': toAttr(now.toISOString()),
    },
  }).then(() =>
    conditionalUpdate({
      ...channelUpdate(channel),
      UpdateExpression: 'SET approvals.#img = :a',
      ConditionExpression: 'attribute_not_exists(approvals.#img)',
      ExpressionAttributeNames: { '#img': imageId },
      ExpressionAttributeValues: { ':a': toAttr({ by, at: now.toISOString() }) },
    }),
  );
}

/** The current value and version of each channel's parameter (10 names per call; absent: none). */
export async function readChannelParameters(
  channels: readonly string[],
): Promise<Map<string, { value: string; version: number }>> {
  const out = new Map<string, { value: string; version: number }>();
  for (const names of chunks([...new Set(channels)].map(channelParameter), 10)) {
    const result = await aws('GetParameters', () => ssm().send(new GetParametersCommand({ Names: names })));
    for (const p of result.Parameters ?? []) {
      if (p.Name === undefined || p.Value === undefined) continue;
      out.set(p.Name.slice(CHANNEL_PARAMETER_PREFIX.length), {
        value: p.Value.trim(),
        version: p.Version ?? 1,
      });
    }
  }
  return out;
}

/** Every channel parameter under `/phoenix/channels/` (for `phoenix channels`). */
export async function listChannelParameters(): Promise<Map<string, { value: string; version: number }>> {
  const out = new Map<string, { value: string; version: number }>();
  let token: string | undefined;
  do {
    const page = await aws('GetParametersByPath', () =>
      ssm().send(new GetParametersByPathCommand({ Path: CHANNEL_PARAMETER_PREFIX, NextToken: token })),
    );
    for (const p of page.Parameters ?? []) {
      if (p.Name === undefined || p.Value === undefined) continue;
      out.set(p.Name.slice(CHANNEL_PARAMETER_PREFIX.length), {
        value: p.Value.trim(),
        version: p.Version ?? 1,
      });
    }
    token = page.NextToken;
  } while (token);
  return out;
}

/** Publish `imageId` to `channel` the way any user could; returns the parameter's new version. */
export async function publishToChannel(channel: string, imageId: string): Promise<number> {
  const result = await aws('PutParameter', () =>
    ssm().send(
      new PutParameterCommand({
        Name: channelParameter(channel),
        Value: imageId,
        Type: 'String',
        DataType: 'aws:ec2:image',
        Overwrite: true,
      }),
    ),
  );
  return result.Version ?? 1;
}

export interface ImageFacts {
  readonly createdAt?: string;
  /** The value of `phoenix:quarantined`, if tagged. */
  readonly quarantined?: string;
}

/** Creation date and quarantine tag of each image that exists (1000 ids per call, by filter). */
export async function describeImageFacts(images: readonly string[]): Promise<Map<string, ImageFacts>> {
  const out = new Map<string, ImageFacts>();
  for (const ids of chunks([...new Set(images)], 1000)) {
    let next: string | undefined;
    do {
      const page = await aws('DescribeImages', () =>
        ec2().send(
          new DescribeImagesCommand({ Filters: [{ Name: 'image-id', Values: ids }], NextToken: next }),
        ),
      );
      for (const image of page.Images ?? []) {
        if (!image.ImageId) continue;
        const quarantined = image.Tags?.find((t) => t.Key === Tags.quarantined)?.Value;
        out.set(image.ImageId, {
          ...(image.CreationDate !== undefined ? { createdAt: image.CreationDate } : {}),
          ...(quarantined !== undefined ? { quarantined: quarantined || 'quarantined' } : {}),
        });
      }
      next = page.NextToken;
    } while (next);
  }
  return out;
}

/** Every image of this account tagged `phoenix:quarantined` (for `phoenix channels`). */
export async function quarantinedImages(): Promise<{ imageId: string; name?: string; reason: string }[]> {
  const out: { imageId: string; name?: string; reason: string }[] = [];
  let next: string | undefined;
  do {
    const page = await aws('DescribeImages', () =>
      ec2().send(
        new DescribeImagesCommand({
          Owners: ['self'],
          Filters: [{ Name: 'tag-key', Values: [Tags.quarantined] }],
          NextToken: next,
        }),
      ),
    );
    for (const image of page.Images ?? []) {
      if (!image.ImageId) continue;
      out.push({
        imageId: image.ImageId,
        ...(image.Name !== undefined ? { name: image.Name } : {}),
        reason: image.Tags?.find((t) => t.Key === Tags.quarantined)?.Value || 'quarantined',
      });
    }
    next = page.NextToken;
  } while (next);
  return out;
}
