/**
 * readFleetRecords (aws/store.ts): BatchGetItem 100 keys per call and UnprocessedKeys asked again.
 * The emulator never leaves keys unprocessed, so this error path runs against aws-sdk-client-mock.
 */
import { BatchGetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFleetRecords } from '../../lambdas/aws/store/fleet-records';
import { Env } from '../../lambdas/domain/contract';
import { TransientAwsError } from '../../lambdas/domain/errors';

const dynamo = mockClient(DynamoDBClient);
const TABLE = 'fleet-table';

beforeAll(() => {
  process.env[Env.tableName] = TABLE;
  process.env['AWS_REGION'] ??= 'us-east-1';
});
afterEach(() => dynamo.reset());

const item = (fleet: string) => ({
  pk: { S: `FLEET#${fleet}` },
  fleet: { S: fleet },
  desiredImage: { S: `ami-${fleet}` },
});
const keyOf = (fleet: string) => ({ pk: { S: `FLEET#${fleet}` } });

describe('readFleetRecords', () => {
  it('asks again for unprocessed keys, and maps fleets without a record to undefined', async () => {
    dynamo
      .on(BatchGetItemCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [item('a')] },
        UnprocessedKeys: { [TABLE]: { Keys: [keyOf('b'), keyOf('c')], ConsistentRead: true } },
      })
      .resolvesOnce({ Responses: { [TABLE]: [item('b')] }, UnprocessedKeys: {} });
    const calls: number[] = [];
    const records = await readFleetRecords(['a', 'b', 'c'], { onCall: () => calls.push(1) });
    expect(records.get('a')).toMatchObject({ fleet: 'a', desiredImage: 'ami-a' });
    expect(records.get('b')).toMatchObject({ fleet: 'b', desiredImage: 'ami-b' });
    expect(records.has('c')).toBe(true);
    expect(records.get('c')).toBeUndefined();
    const sent = dynamo.commandCalls(BatchGetItemCommand).map((c) => c.args[0].input.RequestItems?.[TABLE]);
    expect(sent.map((r) => r?.Keys?.map((k) => k['pk']?.S))).toEqual([
      ['FLEET#a', 'FLEET#b', 'FLEET#c'],
      ['FLEET#b', 'FLEET#c'],
    ]);
    expect(sent.every((r) => r?.ConsistentRead === true)).toBe(true);
    expect(calls).toHaveLength(2);
  });

  it('reads 100 keys per call', async () => {
    dynamo.on(BatchGetItemCommand).resolves({ Responses: { [TABLE]: [] } });
    const fleets = Array.from({ length: 250 }, (_, i) => `f${i}`);
    await readFleetRecords(fleets);
    expect(
      dynamo
        .commandCalls(BatchGetItemCommand)
        .map((c) => c.args[0].input.RequestItems?.[TABLE]?.Keys?.length),
    ).toEqual([100, 100, 50]);
  });

  it('gives up with a transient error when keys stay unprocessed', async () => {
    dynamo.on(BatchGetItemCommand).resolves({ UnprocessedKeys: { [TABLE]: { Keys: [keyOf('stuck')] } } });
    await expect(readFleetRecords(['stuck'], { maxRounds: 3 })).rejects.toBeInstanceOf(TransientAwsError);
    expect(dynamo.commandCalls(BatchGetItemCommand)).toHaveLength(3);
  });
});
