/**
 * What every store module shares: the table, the key of a fleet's item, the marshalling of values
 * to and from DynamoDB attributes (small and explicit: the records have fixed shapes, parsed by
 * domain/fleet-record.ts), and the conditional update.
 */
import {
  type AttributeValue,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { Env } from '../../domain/contract';
import { fleetKey } from '../../domain/fleet-record';
import { aws, errorName, requireEnv } from '../errors';
import { dynamo } from '../clients';

export type Item = Record<string, AttributeValue>;

export function toAttr(value: unknown): AttributeValue {
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toAttr) };
  if (typeof value === 'object') {
    const m: Item = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) m[k] = toAttr(v);
    return { M: m };
  }
  throw new TypeError(`cannot store ${typeof value}`);
}

export function fromAttr(attr: AttributeValue): unknown {
  if (attr.S !== undefined) return attr.S;
  if (attr.N !== undefined) return Number(attr.N);
  if (attr.BOOL !== undefined) return attr.BOOL;
  if (attr.NULL !== undefined) return null;
  if (attr.L !== undefined) return attr.L.map(fromAttr);
  if (attr.M !== undefined) return fromItem(attr.M);
  return undefined;
}

export function fromItem(item: Item): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) out[k] = fromAttr(v);
  return out;
}

/** An item's attributes without its key attribute `pk`. */
export function withoutKey(item: Item | undefined): Record<string, unknown> {
  const { pk: _pk, ...rest } = item !== undefined ? fromItem(item) : {};
  return rest;
}

export const table = () => requireEnv(Env.tableName);

/** The key of a fleet's item (`FLEET#<fleet>`). */
export const key = (fleet: string): Item => ({ pk: { S: fleetKey(fleet) } });

/** Is this the error of a conditional write whose condition did not hold? */
export const isConditionFailure = (error: unknown): boolean =>
  errorName(error) === 'ConditionalCheckFailedException';

/** Any other error of an UpdateItem, as `aws()` classifies it (transient or passed through). */
export function updateFailed(error: unknown): Promise<never> {
  return aws('UpdateItem', () => Promise.reject(error as Error));
}

/**
 * A conditional UpdateItem: true when it was applied, false when its condition did not hold
 * (ConditionalCheckFailedException); any other error as `aws()` classifies it.
 */
export async function conditionalUpdate(input: UpdateItemCommandInput): Promise<boolean> {
  try {
    await dynamo().send(new UpdateItemCommand(input));
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    return updateFailed(error);
  }
}
