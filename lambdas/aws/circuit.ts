/**
 * The circuit breaker's state on the fleet record (DynamoDB item `FLEET#<fleet>`, attributes
 * `circuit` = `{flags: [{instanceId, cause, at}], openedAt?}` and `circuitVersion`): read, change
 * with a pure function, write back only if nobody wrote in between (optimistic, conditional on the
 * version; retried a few times on a conflict).
 */
import { type AttributeValue, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { CircuitFlag, CircuitState } from '../domain/circuit';
import { Env } from '../domain/contract';
import { TransientAwsError } from '../domain/errors';
import { fleetKey } from '../domain/fleet-record';
import { aws, errorName, requireEnv } from './errors';
import { dynamo } from './clients';

const table = () => requireEnv(Env.tableName);
const key = (fleet: string): Record<string, AttributeValue> => ({ pk: { S: fleetKey(fleet) } });

function toItem(state: CircuitState): AttributeValue {
  return {
    M: {
      flags: {
        L: state.flags.map((f) => ({
          M: { instanceId: { S: f.instanceId }, cause: { S: f.cause }, at: { S: f.at } },
        })),
      },
      ...(state.openedAt !== undefined ? { openedAt: { S: state.openedAt } } : {}),
    },
  };
}

function fromItem(attr: AttributeValue | undefined): CircuitState | undefined {
  const m = attr?.M;
  if (!m) return undefined;
  const flags: CircuitFlag[] = (m['flags']?.L ?? []).flatMap((f) => {
    const instanceId = f.M?.['instanceId']?.S;
    const at = f.M?.['at']?.S;
    return instanceId !== undefined && at !== undefined
      ? [{ instanceId, at, cause: f.M?.['cause']?.S ?? 'unknown' }]
      : [];
  });
  const openedAt = m['openedAt']?.S;
  return { flags, ...(openedAt !== undefined ? { openedAt } : {}) };
}

/** The fleet's circuit state (undefined: never flagged) and its version. */
export async function readCircuit(fleet: string): Promise<{ state?: CircuitState; version: number }> {
  const result = await aws('GetItem', () =>
    dynamo().send(
      new GetItemCommand({
        TableName: table(),
        Key: key(fleet),
        ConsistentRead: true,
        ProjectionExpression: 'circuit, circuitVersion',
      }),
    ),
  );
  const state = fromItem(result.Item?.['circuit']);
  return { ...(state ? { state } : {}), version: Number(result.Item?.['circuitVersion']?.N ?? 0) };
}

/**
 * Change the fleet's circuit state with `change` (given the current state, returns the new state
 * and a result, or `write: false` to leave it). Conditional on the version: on a conflict, re-read
 * and change again (up to 8 times, then a transient error: the step is retried).
 */
export async function updateCircuit<T>(
  fleet: string,
  now: Date,
  change: (state: CircuitState | undefined) => { state: CircuitState; write: boolean; result: T },
): Promise<T> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const current = await readCircuit(fleet);
    const next = change(current.state);
    if (!next.write) return next.result;
    try {
      await dynamo().send(
        new UpdateItemCommand({
          TableName: table(),
          Key: key(fleet),
          UpdateExpression:
            'SET fleet = :fleet, circuit = :circuit, circuitVersion = :next, updatedAt = :now',
          ConditionExpression: 'attribute_not_exists(circuitVersion) OR circuitVersion = :version',
          ExpressionAttributeValues: {
            ':fleet': { S: fleet },
            ':circuit': toItem(next.state),
            ':next': { N: String(current.version + 1) },
            ':version': { N: String(current.version) },
            ':now': { S: now.toISOString() },
          },
        }),
      );
      return next.result;
    } catch (error) {
      if (errorName(error) !== 'ConditionalCheckFailedException') {
        return aws('UpdateItem', () => Promise.reject(error as Error));
      }
    }
  }
  throw new TransientAwsError(`the circuit state of fleet ${fleet} kept changing under concurrent updates`);
}
