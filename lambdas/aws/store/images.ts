/**
 * Image records in the fleet table (issue 13 §2, §3): one item `IMAGE#<imageId>` per image that
 * Phoenix quarantined, released or validated. Conditional writes only: the first quarantine of an
 * image wins (a second fleet rolling the same image back does not overwrite it), a release
 * removes the quarantine and appends itself to the image's releases.
 */
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type ImageQuarantine,
  imageKey,
  type ImageRecord,
  type ImageRelease,
  MAX_RELEASES,
  parseImageRecord,
} from '../../domain/quarantine';
import { aws } from '../errors';
import { dynamo } from '../clients';
import { type Item, isConditionFailure, table, toAttr, updateFailed, withoutKey } from './items';

const key = (imageId: string): Item => ({ pk: { S: imageKey(imageId) } });

/** The image's record, or undefined when Phoenix never recorded anything about it. */
export async function readImageRecord(imageId: string): Promise<ImageRecord | undefined> {
  const result = await aws('GetItem', () =>
    dynamo().send(new GetItemCommand({ TableName: table(), Key: key(imageId), ConsistentRead: true })),
  );
  return result.Item !== undefined ? parseImageRecord(imageId, withoutKey(result.Item)) : undefined;
}

/**
 * Record the image's quarantine unless it is quarantined already. Returns the quarantine the
 * record holds afterwards and whether this call wrote it (`recorded: false`: an earlier one holds).
 */
export async function recordQuarantine(
  imageId: string,
  quarantine: ImageQuarantine,
  now: Date,
): Promise<{ quarantine: ImageQuarantine; recorded: boolean }> {
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(imageId),
        UpdateExpression: 'SET imageId = :image, quarantine = :q, updatedAt = :now',
        ConditionExpression: 'attribute_not_exists(quarantine)',
        ExpressionAttributeValues: {
          ':image': toAttr(imageId),
          ':q': toAttr(quarantine),
          ':now': toAttr(now.toISOString()),
        },
      }),
    );
    return { quarantine, recorded: true };
  } catch (error) {
    if (!isConditionFailure(error)) return updateFailed(error);
  }
  const record = await readImageRecord(imageId);
  return { quarantine: record?.quarantine ?? quarantine, recorded: false };
}

/**
 * Release the image's quarantine: remove it and append the release (who, when, why, and the
 * quarantine it cleared) to `releases`, the newest MAX_RELEASES kept. Recorded even when the
 * record held no quarantine (the tag alone may have been set, e.g. when recording failed).
 */
export async function recordRelease(
  imageId: string,
  release: Omit<ImageRelease, 'quarantine'>,
  now: Date,
): Promise<{ released?: ImageQuarantine }> {
  const before = await readImageRecord(imageId);
  const entry: ImageRelease = {
    ...release,
    ...(before?.quarantine !== undefined ? { quarantine: before.quarantine } : {}),
  };
  const releases = [...(before?.releases ?? []), entry].slice(-MAX_RELEASES);
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(imageId),
        UpdateExpression: 'SET imageId = :image, releases = :releases, updatedAt = :now REMOVE quarantine',
        // Nobody changed the record in between (a quarantine or another release).
        ConditionExpression: releaseCondition(before),
        ExpressionAttributeValues: {
          ':image': toAttr(imageId),
          ':releases': toAttr(releases),
          ':now': toAttr(now.toISOString()),
          ...(before !== undefined && before.releases.length > 0
            ? { ':n': toAttr(before.releases.length) }
            : {}),
          ...(before?.quarantine !== undefined ? { ':execution': toAttr(before.quarantine.execution) } : {}),
        },
      }),
    );
  } catch (error) {
    if (isConditionFailure(error)) {
      throw new Error(
        `image record ${imageId} changed while it was being released; run phoenix release again`,
      );
    }
    return updateFailed(error);
  }
  return before?.quarantine !== undefined ? { released: before.quarantine } : {};
}

/** The record is as read: no quarantine or the same one, and as many releases. */
function releaseCondition(before: ImageRecord | undefined): string {
  if (before === undefined) return 'attribute_not_exists(pk)';
  const releases = before.releases.length === 0 ? 'attribute_not_exists(releases)' : 'size(releases) = :n';
  const quarantine =
    before.quarantine === undefined
      ? 'attribute_not_exists(quarantine)'
      : 'quarantine.execution = :execution';
  return `${quarantine} AND ${releases}`;
}

/**
 * Record the image's validation verdict (`validated` or `failed`) unless one is recorded already:
 * an image is validated once. Returns the verdict the record holds afterwards and whether this
 * call wrote it (a retry by the same execution finds its own verdict: `execution` says whose).
 */
export async function recordValidation(
  imageId: string,
  validation: NonNullable<ImageRecord['validation']>,
  now: Date,
): Promise<{ validation: NonNullable<ImageRecord['validation']>; recorded: boolean }> {
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(imageId),
        UpdateExpression: 'SET imageId = :image, validation = :v, updatedAt = :now',
        ConditionExpression: 'attribute_not_exists(validation)',
        ExpressionAttributeValues: {
          ':image': toAttr(imageId),
          ':v': toAttr(validation),
          ':now': toAttr(now.toISOString()),
        },
      }),
    );
    return { validation, recorded: true };
  } catch (error) {
    if (!isConditionFailure(error)) return updateFailed(error);
  }
  const record = await readImageRecord(imageId);
  return { validation: record?.validation ?? validation, recorded: false };
}
