/**
 * Names, ARNs and intrinsic functions of the template, as the local runtime computes them (no
 * I/O). Physical names are deterministic: the resource's own name property when it has one (the
 * Phoenix bus keeps `Name`), else `phoenix-<logicalId>`, shortened with a hash to the service's
 * limit. Supported: Ref (resources, parameters with a default, pseudo parameters), Fn::GetAtt
 * (Arn, and a few names and URLs), Fn::Join, Fn::Sub, Fn::Select, Fn::Split; anything else is an
 * UnsupportedIntrinsicError that quotes it.
 */
import { createHash } from 'node:crypto';
import {
  LOCAL_STACK_NAME,
  TemplateShapeError,
  UnsupportedIntrinsicError,
  type CfnResource,
  type CfnTemplate,
  type ResolveOptions,
} from './model';

/** What `Ref: AWS::NoValue` resolves to: the property is left out. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

export interface Resolver {
  readonly region: string;
  readonly account: string;
  readonly partition: string;
  /** The emulator endpoint, without a trailing slash. */
  readonly endpoint: string;
  /** Resolve a template value; `NO_VALUE` where it is `Ref: AWS::NoValue`. */
  resolve(value: unknown, where?: string): unknown;
  /** Resolve a value that must be a string (TemplateShapeError if not). */
  str(value: unknown, where: string): string;
  nameOf(logicalId: string): string;
  arnOf(logicalId: string, where: string): string;
  /** The bus of a rule (`default` when the template names none). */
  ruleBusName(logicalId: string): string;
  /** The resources of these types, as [logicalId, resource]. */
  ofType(...types: string[]): [string, CfnResource][];
}

/** The resolver's state: the template, the environment, and the names computed so far. */
interface Context {
  readonly template: CfnTemplate;
  readonly resources: Record<string, CfnResource>;
  readonly region: string;
  readonly account: string;
  readonly partition: string;
  readonly endpoint: string;
  readonly names: Map<string, string>;
}

export function createResolver(template: CfnTemplate, options: ResolveOptions): Resolver {
  const region = options.region;
  const resources = template.Resources ?? {};
  if (typeof resources !== 'object' || Object.keys(resources).length === 0) {
    throw new TemplateShapeError('The template has no Resources');
  }
  const ctx: Context = {
    template,
    resources,
    region,
    account: options.account ?? '123456789012',
    partition: region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws',
    endpoint: options.endpoint.replace(/\/+$/, ''),
    names: new Map(),
  };
  return {
    region: ctx.region,
    account: ctx.account,
    partition: ctx.partition,
    endpoint: ctx.endpoint,
    resolve: (value, where) => resolve(ctx, value, where),
    str: (value, where) => resolveString(ctx, value, where),
    nameOf: (logicalId) => nameOf(ctx, logicalId),
    arnOf: (logicalId, where) => arnOf(ctx, logicalId, where),
    ruleBusName: (logicalId) => ruleBusName(ctx, logicalId),
    ofType: (...types) => Object.entries(resources).filter(([, resource]) => types.includes(resource.Type)),
  };
}

export function quote(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

// ---- naming ------------------------------------------------------------------------------------

const NAME_LIMITS: Record<string, number> = {
  'AWS::Lambda::Function': 64,
  'AWS::SQS::Queue': 80,
  'AWS::StepFunctions::StateMachine': 80,
  'AWS::Events::Rule': 64,
  'AWS::Events::EventBus': 256,
  'AWS::DynamoDB::Table': 255,
  'AWS::DynamoDB::GlobalTable': 255,
  'AWS::IAM::Role': 64,
  'AWS::Logs::LogGroup': 512,
};

const NAME_PROPERTIES: Record<string, string> = {
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::Events::Rule': 'Name',
  'AWS::Events::EventBus': 'Name',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::DynamoDB::GlobalTable': 'TableName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::Logs::LogGroup': 'LogGroupName',
};

/** `phoenix-<logicalId>`, or its head plus an 8-character hash when longer than `limit`. */
export function physicalName(logicalId: string, limit = 64, suffix = ''): string {
  const full = `phoenix-${logicalId}${suffix}`;
  if (full.length <= limit) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, limit - suffix.length - 9)}-${hash}${suffix}`;
}

function resourceOf(ctx: Context, logicalId: string, where: string): CfnResource {
  const resource = ctx.resources[logicalId];
  if (resource === undefined) {
    throw new TemplateShapeError(
      `${where}: references ${quote(logicalId)}, which is not a resource of the template`,
    );
  }
  return resource;
}

function nameOf(ctx: Context, logicalId: string): string {
  const cached = ctx.names.get(logicalId);
  if (cached !== undefined) return cached;
  const resource = resourceOf(ctx, logicalId, 'naming');
  const property = NAME_PROPERTIES[resource.Type];
  const explicit = property !== undefined ? resource.Properties?.[property] : undefined;
  let name: string;
  if (explicit !== undefined) {
    name = String(resolve(ctx, explicit, `${logicalId}.${property}`));
  } else {
    const fifo = resource.Type === 'AWS::SQS::Queue' && isTrue(resource.Properties?.FifoQueue);
    name = physicalName(logicalId, NAME_LIMITS[resource.Type] ?? 64, fifo ? '.fifo' : '');
  }
  ctx.names.set(logicalId, name);
  return name;
}

function arnOf(ctx: Context, logicalId: string, where: string): string {
  const resource = resourceOf(ctx, logicalId, where);
  const name = nameOf(ctx, logicalId);
  const { partition, region, account } = ctx;
  switch (resource.Type) {
    case 'AWS::Lambda::Function':
      return `arn:${partition}:lambda:${region}:${account}:function:${name}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:${partition}:states:${region}:${account}:stateMachine:${name}`;
    case 'AWS::SQS::Queue':
      return `arn:${partition}:sqs:${region}:${account}:${name}`;
    case 'AWS::DynamoDB::Table':
    case 'AWS::DynamoDB::GlobalTable':
      return `arn:${partition}:dynamodb:${region}:${account}:table/${name}`;
    case 'AWS::Events::EventBus':
      return `arn:${partition}:events:${region}:${account}:event-bus/${name}`;
    case 'AWS::Events::Rule': {
      const bus = ruleBusName(ctx, logicalId);
      return `arn:${partition}:events:${region}:${account}:rule/${bus === 'default' ? '' : `${bus}/`}${name}`;
    }
    case 'AWS::IAM::Role':
      return `arn:${partition}:iam::${account}:role/${name}`;
    default:
      throw new UnsupportedIntrinsicError(
        `${where}: the ARN of ${logicalId} (${resource.Type}) is not known to the local runtime`,
      );
  }
}

function ruleBusName(ctx: Context, logicalId: string): string {
  const value = resourceOf(ctx, logicalId, 'rule').Properties?.EventBusName;
  if (value === undefined) return 'default';
  const resolved = String(resolve(ctx, value, `${logicalId}.EventBusName`));
  const match = /:event-bus\/(.+)$/.exec(resolved);
  return match?.[1] ?? resolved;
}

function queueUrl(ctx: Context, logicalId: string): string {
  return `${ctx.endpoint}/${ctx.account}/${nameOf(ctx, logicalId)}`;
}

// ---- Ref and Fn::GetAtt ------------------------------------------------------------------------

function ref(ctx: Context, target: string, where: string): unknown {
  if (target.startsWith('AWS::')) return pseudoParameter(ctx, target, where);
  const parameter = ctx.template.Parameters?.[target];
  if (parameter !== undefined) {
    if (parameter.Default === undefined || parameter.Type.startsWith('AWS::SSM::Parameter::Value')) {
      throw new UnsupportedIntrinsicError(
        `${where}: the local runtime cannot resolve parameter ${quote({ Ref: target })}`,
      );
    }
    return parameter.Default;
  }
  return refOfResource(ctx, target, where);
}

function pseudoParameter(ctx: Context, target: string, where: string): unknown {
  const { partition, region, account } = ctx;
  switch (target) {
    case 'AWS::Region':
      return region;
    case 'AWS::AccountId':
      return account;
    case 'AWS::Partition':
      return partition;
    case 'AWS::URLSuffix':
      return partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
    case 'AWS::StackName':
      return LOCAL_STACK_NAME;
    case 'AWS::StackId':
      return `arn:${partition}:cloudformation:${region}:${account}:stack/${LOCAL_STACK_NAME}/00000000-0000-0000-0000-000000000000`;
    case 'AWS::NoValue':
      return NO_VALUE;
    default:
      throw new UnsupportedIntrinsicError(`${where}: unsupported pseudo parameter ${quote({ Ref: target })}`);
  }
}

function refOfResource(ctx: Context, target: string, where: string): unknown {
  const resource = resourceOf(ctx, target, where);
  switch (resource.Type) {
    case 'AWS::SQS::Queue':
      return queueUrl(ctx, target);
    case 'AWS::StepFunctions::StateMachine':
      return arnOf(ctx, target, where);
    case 'AWS::Events::Rule': {
      const bus = ruleBusName(ctx, target);
      return bus === 'default' ? nameOf(ctx, target) : `${bus}|${nameOf(ctx, target)}`;
    }
    case 'AWS::Lambda::Function':
    case 'AWS::DynamoDB::Table':
    case 'AWS::DynamoDB::GlobalTable':
    case 'AWS::Events::EventBus':
    case 'AWS::IAM::Role':
    case 'AWS::Logs::LogGroup':
      return nameOf(ctx, target);
    default:
      throw new UnsupportedIntrinsicError(
        `${where}: the local runtime does not know what ${quote({ Ref: target })} (${resource.Type}) resolves to`,
      );
  }
}

function getAtt(ctx: Context, logicalId: string, attribute: string, where: string): unknown {
  const resource = resourceOf(ctx, logicalId, where);
  switch (`${resource.Type}.${attribute}`) {
    case 'AWS::Lambda::Function.Arn':
    case 'AWS::StepFunctions::StateMachine.Arn':
    case 'AWS::SQS::Queue.Arn':
    case 'AWS::DynamoDB::Table.Arn':
    case 'AWS::DynamoDB::GlobalTable.Arn':
    case 'AWS::Events::EventBus.Arn':
    case 'AWS::Events::Rule.Arn':
    case 'AWS::IAM::Role.Arn':
      return arnOf(ctx, logicalId, where);
    case 'AWS::SQS::Queue.QueueName':
    case 'AWS::StepFunctions::StateMachine.Name':
    case 'AWS::Events::EventBus.Name':
      return nameOf(ctx, logicalId);
    case 'AWS::SQS::Queue.QueueUrl':
      return queueUrl(ctx, logicalId);
    default:
      throw new UnsupportedIntrinsicError(
        `${where}: unsupported attribute ${quote({ 'Fn::GetAtt': [logicalId, attribute] })} (${resource.Type})`,
      );
  }
}

// ---- resolving a value -------------------------------------------------------------------------

/** An intrinsic function: its argument, the whole `{Fn::X: argument}` (for messages), where. */
type Intrinsic = (ctx: Context, argument: unknown, whole: unknown, where: string) => unknown;

const INTRINSICS = new Map<string, Intrinsic>([
  ['Ref', fnRef],
  ['Fn::GetAtt', fnGetAtt],
  ['Fn::Join', fnJoin],
  ['Fn::Sub', fnSub],
  ['Fn::Select', fnSelect],
  ['Fn::Split', fnSplit],
]);

/** Known to CloudFormation, not to the local runtime (any other `Fn::` is refused as well). */
const UNSUPPORTED_INTRINSICS = new Set([
  'Fn::If',
  'Fn::ImportValue',
  'Fn::GetAZs',
  'Fn::Base64',
  'Fn::Cidr',
  'Fn::FindInMap',
  'Fn::Transform',
  'Fn::Equals',
  'Fn::And',
  'Fn::Or',
  'Fn::Not',
  'Fn::Length',
  'Fn::ToJsonString',
  'Fn::Contains',
]);

function resolve(ctx: Context, value: unknown, where = 'template'): unknown {
  if (Array.isArray(value)) {
    return value.map((item, i) => resolve(ctx, item, `${where}[${i}]`)).filter((item) => item !== NO_VALUE);
  }
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [key, argument] = entries[0]!;
    const intrinsic = INTRINSICS.get(key);
    if (intrinsic !== undefined) return intrinsic(ctx, argument, value, where);
    if (UNSUPPORTED_INTRINSICS.has(key) || key.startsWith('Fn::')) {
      throw new UnsupportedIntrinsicError(`${where}: the local runtime does not support ${quote(value)}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    const resolved = resolve(ctx, item, `${where}.${key}`);
    if (resolved !== NO_VALUE) out[key] = resolved;
  }
  return out;
}

function resolveString(ctx: Context, value: unknown, where: string): string {
  const resolved = resolve(ctx, value, where);
  if (typeof resolved !== 'string') {
    throw new TemplateShapeError(`${where}: expected a string, got ${quote(resolved)}`);
  }
  return resolved;
}

function malformed(whole: unknown, where: string): UnsupportedIntrinsicError {
  return new UnsupportedIntrinsicError(`${where}: malformed ${quote(whole)}`);
}

function fnRef(ctx: Context, argument: unknown, whole: unknown, where: string): unknown {
  if (typeof argument !== 'string') throw malformed(whole, where);
  return ref(ctx, argument, where);
}

function fnGetAtt(ctx: Context, argument: unknown, whole: unknown, where: string): unknown {
  const [logicalId, attribute] = Array.isArray(argument)
    ? (argument as unknown[]).map((part) => resolve(ctx, part, where))
    : typeof argument === 'string'
      ? [argument.slice(0, argument.indexOf('.')), argument.slice(argument.indexOf('.') + 1)]
      : [];
  if (typeof logicalId !== 'string' || typeof attribute !== 'string') throw malformed(whole, where);
  return getAtt(ctx, logicalId, attribute, where);
}

function fnJoin(ctx: Context, argument: unknown, whole: unknown, where: string): unknown {
  const [delimiter, list] = Array.isArray(argument) ? (argument as unknown[]) : [];
  const items = resolve(ctx, list, where);
  if (typeof delimiter !== 'string' || !Array.isArray(items)) throw malformed(whole, where);
  return items.map((item) => scalar(item, whole, where)).join(delimiter);
}

function scalar(item: unknown, whole: unknown, where: string): string {
  if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') return String(item);
  throw new UnsupportedIntrinsicError(`${where}: Fn::Join of a non-scalar in ${quote(whole)}`);
}

function fnSub(ctx: Context, argument: unknown, whole: unknown, where: string): unknown {
  if (typeof argument === 'string') return sub(ctx, argument, {}, where);
  const [text, variables] = Array.isArray(argument) ? (argument as unknown[]) : [];
  if (typeof text !== 'string' || (variables !== undefined && typeof variables !== 'object')) {
    throw malformed(whole, where);
  }
  return sub(ctx, text, (variables ?? {}) as Record<string, unknown>, where);
}

function sub(ctx: Context, text: string, variables: Record<string, unknown>, where: string): string {
  return text.replace(/\$\{([^}]*)\}/g, (whole, inner: string) => {
    if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
    if (inner in variables) return String(resolve(ctx, variables[inner], where));
    if (inner.includes('.') && !inner.startsWith('AWS::')) {
      const dot = inner.indexOf('.');
      return String(getAtt(ctx, inner.slice(0, dot), inner.slice(dot + 1), where));
    }
    const value = ref(ctx, inner, where);
    if (value === NO_VALUE) throw new UnsupportedIntrinsicError(`${where}: ${whole} in Fn::Sub`);
    return String(value);
  });
}

function fnSelect(ctx: Context, argument: unknown, whole: unknown, where: string): unknown {
  const [index, list] = Array.isArray(argument) ? (argument as unknown[]) : [];
  const items = resolve(ctx, list, where);
  const i = Number(resolve(ctx, index, where));
  if (!Array.isArray(items) || !Number.isInteger(i) || i < 0 || i >= items.length) {
    throw new UnsupportedIntrinsicError(`${where}: cannot evaluate ${quote(whole)}`);
  }
  return items[i] as unknown;
}

function fnSplit(ctx: Context, argument: unknown, whole: unknown, where: string): unknown {
  const [delimiter, text] = Array.isArray(argument) ? (argument as unknown[]) : [];
  const resolved = resolve(ctx, text, where);
  if (typeof delimiter !== 'string' || typeof resolved !== 'string') throw malformed(whole, where);
  return resolved.split(delimiter);
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}
