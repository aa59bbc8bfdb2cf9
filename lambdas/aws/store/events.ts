/** Intake's idempotency: one `EVENT#<id>` item per incoming event. */
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { aws } from '../errors';
import { dynamo } from '../clients';
import { isConditionFailure, table, updateFailed } from './items';

/**
 * Idempotency of intake: an `EVENT#<id>` item per event, claimed before acting (conditional
 * update), marked done after, and marked failed on an error so that a retry may claim it again.
 * A claim that is still in progress past `lockSeconds` (the function died) may be taken over.
 * Items expire (DynamoDB TTL on `expiresAt`) after a day.
 */
export async function claimEvent(
  eventId: string,
  now: Date,
  lockSeconds = 120,
): Promise<'claimed' | 'done' | 'in-progress'> {
  const epoch = Math.floor(now.getTime() / 1000);
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: { pk: { S: `EVENT#${eventId}` } },
        UpdateExpression: 'SET #status = :inProgress, lockedUntil = :lockedUntil, expiresAt = :expiresAt',
        ConditionExpression:
          'attribute_not_exists(pk) OR #status = :failed OR (#status = :inProgress AND lockedUntil < :now)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':inProgress': { S: 'IN_PROGRESS' },
          ':failed': { S: 'FAILED' },
          ':lockedUntil': { N: String(epoch + lockSeconds) },
          ':expiresAt': { N: String(epoch + 24 * 60 * 60) },
          ':now': { N: String(epoch) },
        },
      }),
    );
    return 'claimed';
  } catch (error) {
    if (!isConditionFailure(error)) return updateFailed(error);
  }
  const existing = await aws('GetItem', () =>
    dynamo().send(
      new GetItemCommand({
        TableName: table(),
        Key: { pk: { S: `EVENT#${eventId}` } },
        ConsistentRead: true,
      }),
    ),
  );
  return existing.Item?.['status']?.S === 'COMPLETED' ? 'done' : 'in-progress';
}

/** Mark a claimed event done (`COMPLETED`) or failed (`FAILED`, claimable again). */
export async function settleEvent(eventId: string, status: 'COMPLETED' | 'FAILED'): Promise<void> {
  await aws('UpdateItem', () =>
    dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: { pk: { S: `EVENT#${eventId}` } },
        UpdateExpression: 'SET #status = :status',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': { S: status } },
      }),
    ),
  );
}
