/**
 * The synthesized control plane, as the local runtime sees it: the CloudFormation template of
 * `PhoenixStack` turned into a plain model with physical names, ARNs and resolved values for
 * the few places the runtime needs (function environments, rule buses and patterns, targets,
 * queue attributes, state machine definitions).
 *
 * Physical names are deterministic: the resource's own name property when it has one (the Phoenix
 * bus keeps `Name`), else `phoenix-<logicalId>`, shortened with a hash to the service's limit.
 */
import { createHash } from 'node:crypto';
import { App } from 'aws-cdk-lib';
import { HANDLER_METADATA_KEY } from '../lambdas/domain/contract';
import { PhoenixStack, type PhoenixStackProps } from '../lib/phoenix-stack';

// ---- template types ----------------------------------------------------------------------------

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
  readonly Condition?: string;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Parameters?: Record<string, { Type: string; Default?: unknown }>;
  readonly Outputs?: Record<string, unknown>;
  readonly [section: string]: unknown;
}

/** The name of the stack the local runtime synthesizes. */
export const LOCAL_STACK_NAME = 'Phoenix';

/**
 * Synthesize `PhoenixStack` without bundling the handlers (the local runtime runs their sources
 * in-process). Environment-agnostic, like `cdk synth` without an account: region and account stay
 * pseudo parameters, resolved by `resolveTemplate`.
 */
export function synthesizeControlPlane(options: { stackProps?: PhoenixStackProps } = {}): {
  template: CfnTemplate;
} {
  const app = new App({
    // Skip esbuild bundling: the local runtime runs the handlers' sources.
    context: { 'aws:cdk:bundling-stacks': [] },
    analyticsReporting: false,
    stackTraces: false,
    // CDK's built-in CloudFormation validation (wasm) is ~3 s of every synth; test/infra covers it.
    builtinCloudFormationValidation: false,
  });
  const stack = new PhoenixStack(app, LOCAL_STACK_NAME, options.stackProps ?? {});
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template as CfnTemplate;
  return { template };
}

// ---- errors ------------------------------------------------------------------------------------

/** The template uses an intrinsic function, pseudo parameter or attribute the local runtime cannot resolve. */
export class UnsupportedIntrinsicError extends Error {
  override readonly name = 'UnsupportedIntrinsicError';
}
/** The template is not what the local runtime expects (missing resource, bad metadata...). */
export class TemplateShapeError extends Error {
  override readonly name = 'TemplateShapeError';
}

// ---- the resolved model ------------------------------------------------------------------------

export interface ResolveOptions {
  readonly region: string;
  /** Default: `123456789012` (the emulator's default account). */
  readonly account?: string;
  /** The emulator endpoint: queue URLs are `<endpoint>/<account>/<name>`, as moto reports them. */
  readonly endpoint: string;
}

export interface LocalEventBus {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
}

export interface LocalQueue {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly url: string;
  /** CreateQueue attributes (strings), tokens resolved. */
  readonly attributes: Record<string, string>;
}

export interface LocalTable {
  readonly logicalId: string;
  readonly type: 'AWS::DynamoDB::Table' | 'AWS::DynamoDB::GlobalTable';
  readonly name: string;
  readonly arn: string;
  readonly keySchema: { AttributeName: string; KeyType: string }[];
  readonly attributeDefinitions: { AttributeName: string; AttributeType: string }[];
  readonly billingMode: string;
  readonly provisionedThroughput?: { ReadCapacityUnits: number; WriteCapacityUnits: number };
  readonly globalSecondaryIndexes?: Record<string, unknown>[];
  readonly localSecondaryIndexes?: Record<string, unknown>[];
  readonly timeToLiveAttribute?: string;
  readonly streamViewType?: string;
}

export interface LocalFunction {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** `phoenix:handler` metadata: the module is `lambdas/<handler>.ts`. */
  readonly handler: string;
  readonly environment: Record<string, string>;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** DeadLetterConfig.TargetArn (asynchronous invocations that failed every attempt). */
  readonly deadLetterArn?: string;
  /** From AWS::Lambda::EventInvokeConfig (defaults as in AWS: 2 retries, 6 hours). */
  readonly asyncInvoke: {
    readonly maximumRetryAttempts: number;
    readonly maximumEventAgeInSeconds: number;
    readonly onFailureDestination?: string;
  };
}

export type LocalRuleTargetKind = 'lambda' | 'state-machine' | 'sqs' | 'event-bus';

export interface LocalRuleTarget {
  readonly id: string;
  readonly arn: string;
  readonly kind: LocalRuleTargetKind;
  /** Logical id of the function or state machine behind `arn` (kinds lambda, state-machine). */
  readonly targetLogicalId?: string;
  /** The rule target's DeadLetterConfig.Arn: events EventBridge could not deliver. */
  readonly deadLetterArn?: string;
  /** EventBridge's delivery retries (defaults as in AWS: 185 attempts, 24 hours). */
  readonly retryPolicy: { readonly maximumRetryAttempts: number; readonly maximumEventAgeInSeconds: number };
  readonly input?: string;
  readonly inputPath?: string;
  readonly inputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
  readonly sqsParameters?: { MessageGroupId?: string };
}

export interface LocalRule {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** The bus name (`default` when the template names none). */
  readonly eventBusName: string;
  /** The pattern as EventBridge takes it: a JSON string. */
  readonly eventPattern?: string;
  readonly scheduleExpression?: string;
  readonly state: 'ENABLED' | 'DISABLED';
  readonly description?: string;
  readonly targets: readonly LocalRuleTarget[];
}

export interface LocalStateMachine {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** The definition JSON after resolving every token and DefinitionSubstitutions. */
  readonly definitionString: string;
  readonly roleArn: string;
  readonly type: 'STANDARD' | 'EXPRESS';
}

export interface LocalModel {
  readonly region: string;
  readonly account: string;
  readonly partition: string;
  readonly endpoint: string;
  readonly eventBuses: readonly LocalEventBus[];
  readonly queues: readonly LocalQueue[];
  readonly tables: readonly LocalTable[];
  readonly functions: readonly LocalFunction[];
  readonly rules: readonly LocalRule[];
  readonly stateMachines: readonly LocalStateMachine[];
  /** Resolve any template value (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, pseudo parameters). */
  resolve(value: unknown, where?: string): unknown;
  /** The function whose name or ARN (qualified or not) this is. */
  findFunction(nameOrArn: string): LocalFunction | undefined;
  /** The queue whose ARN, URL or name this is. */
  findQueue(arnUrlOrName: string): LocalQueue | undefined;
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
};

/** `phoenix-<logicalId>`, or its head plus an 8-character hash when longer than `limit`. */
export function physicalName(logicalId: string, limit = 64, suffix = ''): string {
  const full = `phoenix-${logicalId}${suffix}`;
  if (full.length <= limit) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, limit - suffix.length - 9)}-${hash}${suffix}`;
}

// ---- resolution --------------------------------------------------------------------------------

const INTRINSICS = new Set([
  'Ref',
  'Fn::GetAtt',
  'Fn::Join',
  'Fn::Sub',
  'Fn::Select',
  'Fn::Split',
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

function quote(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Turn a synthesized template into the local model (no I/O: names and ARNs are computed). */
export function resolveTemplate(template: CfnTemplate, options: ResolveOptions): LocalModel {
  const region = options.region;
  const account = options.account ?? '123456789012';
  const partition = region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  const endpoint = options.endpoint.replace(/\/+$/, '');
  const resources = template.Resources ?? {};
  if (typeof resources !== 'object' || Object.keys(resources).length === 0) {
    throw new TemplateShapeError('The template has no Resources');
  }

  const nameCache = new Map<string, string>();
  const resourceOf = (logicalId: string, where: string): CfnResource => {
    const resource = resources[logicalId];
    if (resource === undefined) {
      throw new TemplateShapeError(
        `${where}: references ${quote(logicalId)}, which is not a resource of the template`,
      );
    }
    return resource;
  };

  const nameOf = (logicalId: string): string => {
    const cached = nameCache.get(logicalId);
    if (cached !== undefined) return cached;
    const resource = resourceOf(logicalId, 'naming');
    const property = NAME_PROPERTIES[resource.Type];
    const explicit = property !== undefined ? resource.Properties?.[property] : undefined;
    let name: string;
    if (explicit !== undefined) {
      name = String(resolve(explicit, `${logicalId}.${property}`));
    } else {
      const fifo = resource.Type === 'AWS::SQS::Queue' && isTrue(resource.Properties?.FifoQueue);
      name = physicalName(logicalId, NAME_LIMITS[resource.Type] ?? 64, fifo ? '.fifo' : '');
    }
    nameCache.set(logicalId, name);
    return name;
  };

  const arnOf = (logicalId: string, where: string): string => {
    const resource = resourceOf(logicalId, where);
    const name = nameOf(logicalId);
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
        const bus = ruleBusName(logicalId);
        return `arn:${partition}:events:${region}:${account}:rule/${bus === 'default' ? '' : `${bus}/`}${name}`;
      }
      case 'AWS::IAM::Role':
        return `arn:${partition}:iam::${account}:role/${name}`;
      default:
        throw new UnsupportedIntrinsicError(
          `${where}: the ARN of ${logicalId} (${resource.Type}) is not known to the local runtime`,
        );
    }
  };

  const ruleBusName = (logicalId: string): string => {
    const value = resourceOf(logicalId, 'rule').Properties?.EventBusName;
    if (value === undefined) return 'default';
    const resolved = String(resolve(value, `${logicalId}.EventBusName`));
    const match = /:event-bus\/(.+)$/.exec(resolved);
    return match?.[1] ?? resolved;
  };

  const ref = (target: string, where: string): unknown => {
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
    }
    if (target.startsWith('AWS::')) {
      throw new UnsupportedIntrinsicError(`${where}: unsupported pseudo parameter ${quote({ Ref: target })}`);
    }
    const parameter = template.Parameters?.[target];
    if (parameter !== undefined) {
      if (parameter.Default === undefined || parameter.Type.startsWith('AWS::SSM::Parameter::Value')) {
        throw new UnsupportedIntrinsicError(
          `${where}: the local runtime cannot resolve parameter ${quote({ Ref: target })}`,
        );
      }
      return parameter.Default;
    }
    const resource = resourceOf(target, where);
    switch (resource.Type) {
      case 'AWS::SQS::Queue':
        return `${endpoint}/${account}/${nameOf(target)}`;
      case 'AWS::StepFunctions::StateMachine':
        return arnOf(target, where);
      case 'AWS::Events::Rule': {
        const bus = ruleBusName(target);
        return bus === 'default' ? nameOf(target) : `${bus}|${nameOf(target)}`;
      }
      case 'AWS::Lambda::Function':
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
      case 'AWS::Events::EventBus':
      case 'AWS::IAM::Role':
        return nameOf(target);
      default:
        throw new UnsupportedIntrinsicError(
          `${where}: the local runtime does not know what ${quote({ Ref: target })} (${resource.Type}) resolves to`,
        );
    }
  };

  const getAtt = (logicalId: string, attribute: string, where: string): unknown => {
    const resource = resourceOf(logicalId, where);
    const intrinsic = quote({ 'Fn::GetAtt': [logicalId, attribute] });
    switch (`${resource.Type}.${attribute}`) {
      case 'AWS::Lambda::Function.Arn':
      case 'AWS::StepFunctions::StateMachine.Arn':
      case 'AWS::SQS::Queue.Arn':
      case 'AWS::DynamoDB::Table.Arn':
      case 'AWS::DynamoDB::GlobalTable.Arn':
      case 'AWS::Events::EventBus.Arn':
      case 'AWS::Events::Rule.Arn':
      case 'AWS::IAM::Role.Arn':
        return arnOf(logicalId, where);
      case 'AWS::SQS::Queue.QueueName':
      case 'AWS::StepFunctions::StateMachine.Name':
      case 'AWS::Events::EventBus.Name':
        return nameOf(logicalId);
      case 'AWS::SQS::Queue.QueueUrl':
        return `${endpoint}/${account}/${nameOf(logicalId)}`;
      default:
        throw new UnsupportedIntrinsicError(
          `${where}: unsupported attribute ${intrinsic} (${resource.Type})`,
        );
    }
  };

  const sub = (text: string, variables: Record<string, unknown>, where: string): string =>
    text.replace(/\$\{([^}]*)\}/g, (whole, inner: string) => {
      if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
      if (inner in variables) return String(resolve(variables[inner], where));
      if (inner.includes('.') && !inner.startsWith('AWS::')) {
        const dot = inner.indexOf('.');
        return String(getAtt(inner.slice(0, dot), inner.slice(dot + 1), where));
      }
      const value = ref(inner, where);
      if (value === NO_VALUE) throw new UnsupportedIntrinsicError(`${where}: ${whole} in Fn::Sub`);
      return String(value);
    });

  function resolve(value: unknown, where = 'template'): unknown {
    if (Array.isArray(value)) {
      return value.map((item, i) => resolve(item, `${where}[${i}]`)).filter((item) => item !== NO_VALUE);
    }
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, argument] = entries[0]!;
      if (key === 'Ref') {
        if (typeof argument !== 'string')
          throw new UnsupportedIntrinsicError(`${where}: malformed ${quote(value)}`);
        return ref(argument, where);
      }
      if (key === 'Fn::GetAtt') {
        const [logicalId, attribute] = Array.isArray(argument)
          ? (argument as unknown[]).map((part) => resolve(part, where))
          : typeof argument === 'string'
            ? [argument.slice(0, argument.indexOf('.')), argument.slice(argument.indexOf('.') + 1)]
            : [];
        if (typeof logicalId !== 'string' || typeof attribute !== 'string') {
          throw new UnsupportedIntrinsicError(`${where}: malformed ${quote(value)}`);
        }
        return getAtt(logicalId, attribute, where);
      }
      if (key === 'Fn::Join') {
        const [delimiter, list] = Array.isArray(argument) ? (argument as unknown[]) : [];
        const items = resolve(list, where);
        if (typeof delimiter !== 'string' || !Array.isArray(items)) {
          throw new UnsupportedIntrinsicError(`${where}: malformed ${quote(value)}`);
        }
        return items.map((item) => scalar(item, value, where)).join(delimiter);
      }
      if (key === 'Fn::Sub') {
        if (typeof argument === 'string') return sub(argument, {}, where);
        const [text, variables] = Array.isArray(argument) ? (argument as unknown[]) : [];
        if (typeof text !== 'string' || (variables !== undefined && typeof variables !== 'object')) {
          throw new UnsupportedIntrinsicError(`${where}: malformed ${quote(value)}`);
        }
        return sub(text, (variables ?? {}) as Record<string, unknown>, where);
      }
      if (key === 'Fn::Select') {
        const [index, list] = Array.isArray(argument) ? (argument as unknown[]) : [];
        const items = resolve(list, where);
        const i = Number(resolve(index, where));
        if (!Array.isArray(items) || !Number.isInteger(i) || i < 0 || i >= items.length) {
          throw new UnsupportedIntrinsicError(`${where}: cannot evaluate ${quote(value)}`);
        }
        return items[i];
      }
      if (key === 'Fn::Split') {
        const [delimiter, text] = Array.isArray(argument) ? (argument as unknown[]) : [];
        const resolved = resolve(text, where);
        if (typeof delimiter !== 'string' || typeof resolved !== 'string') {
          throw new UnsupportedIntrinsicError(`${where}: malformed ${quote(value)}`);
        }
        return resolved.split(delimiter);
      }
      if (INTRINSICS.has(key) || key.startsWith('Fn::')) {
        throw new UnsupportedIntrinsicError(`${where}: the local runtime does not support ${quote(value)}`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of entries) {
      const resolved = resolve(item, `${where}.${key}`);
      if (resolved !== NO_VALUE) out[key] = resolved;
    }
    return out;
  }

  const scalar = (item: unknown, whole: unknown, where: string): string => {
    if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean')
      return String(item);
    throw new UnsupportedIntrinsicError(`${where}: Fn::Join of a non-scalar in ${quote(whole)}`);
  };

  const ofType = (...types: string[]) =>
    Object.entries(resources).filter(([, resource]) => types.includes(resource.Type));
  const props = (resource: CfnResource): Record<string, unknown> => resource.Properties ?? {};
  const str = (value: unknown, where: string): string => {
    const resolved = resolve(value, where);
    if (typeof resolved !== 'string') {
      throw new TemplateShapeError(`${where}: expected a string, got ${quote(resolved)}`);
    }
    return resolved;
  };

  // Event buses.
  const eventBuses: LocalEventBus[] = ofType('AWS::Events::EventBus').map(([logicalId]) => ({
    logicalId,
    name: nameOf(logicalId),
    arn: arnOf(logicalId, logicalId),
  }));

  // Queues.
  const queues: LocalQueue[] = ofType('AWS::SQS::Queue').map(([logicalId, resource]) => {
    const p = props(resource);
    const attributes: Record<string, string> = {};
    for (const key of [
      'DelaySeconds',
      'MaximumMessageSize',
      'MessageRetentionPeriod',
      'ReceiveMessageWaitTimeSeconds',
      'VisibilityTimeout',
      'FifoQueue',
      'ContentBasedDeduplication',
      'DeduplicationScope',
      'FifoThroughputLimit',
    ]) {
      if (p[key] !== undefined) attributes[key] = String(resolve(p[key], `${logicalId}.${key}`));
    }
    if (p.RedrivePolicy !== undefined) {
      attributes.RedrivePolicy = JSON.stringify(resolve(p.RedrivePolicy, `${logicalId}.RedrivePolicy`));
    }
    const name = nameOf(logicalId);
    return {
      logicalId,
      name,
      arn: arnOf(logicalId, logicalId),
      url: `${endpoint}/${account}/${name}`,
      attributes,
    };
  });

  // Tables.
  const tables: LocalTable[] = ofType('AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable').map(
    ([logicalId, resource]) => {
      const p = resolve(
        {
          KeySchema: props(resource).KeySchema,
          AttributeDefinitions: props(resource).AttributeDefinitions,
          BillingMode: props(resource).BillingMode,
          ProvisionedThroughput: props(resource).ProvisionedThroughput,
          GlobalSecondaryIndexes: props(resource).GlobalSecondaryIndexes,
          LocalSecondaryIndexes: props(resource).LocalSecondaryIndexes,
          TimeToLiveSpecification: props(resource).TimeToLiveSpecification,
          StreamSpecification: props(resource).StreamSpecification,
        },
        logicalId,
      ) as Record<string, unknown>;
      if (!Array.isArray(p.KeySchema) || !Array.isArray(p.AttributeDefinitions)) {
        throw new TemplateShapeError(`${logicalId}: a table needs KeySchema and AttributeDefinitions`);
      }
      const ttl = p.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
      const stream = p.StreamSpecification as { StreamViewType?: string } | undefined;
      return {
        logicalId,
        type: resource.Type as LocalTable['type'],
        name: nameOf(logicalId),
        arn: arnOf(logicalId, logicalId),
        keySchema: p.KeySchema as LocalTable['keySchema'],
        attributeDefinitions: p.AttributeDefinitions as LocalTable['attributeDefinitions'],
        billingMode: typeof p.BillingMode === 'string' ? p.BillingMode : 'PROVISIONED',
        ...(p.ProvisionedThroughput !== undefined
          ? { provisionedThroughput: p.ProvisionedThroughput as LocalTable['provisionedThroughput'] }
          : {}),
        ...(Array.isArray(p.GlobalSecondaryIndexes)
          ? { globalSecondaryIndexes: p.GlobalSecondaryIndexes as Record<string, unknown>[] }
          : {}),
        ...(Array.isArray(p.LocalSecondaryIndexes)
          ? { localSecondaryIndexes: p.LocalSecondaryIndexes as Record<string, unknown>[] }
          : {}),
        ...(ttl?.Enabled === true && ttl.AttributeName !== undefined
          ? { timeToLiveAttribute: ttl.AttributeName }
          : {}),
        ...(stream?.StreamViewType !== undefined ? { streamViewType: stream.StreamViewType } : {}),
      };
    },
  );

  // Async invoke configs, by function logical id.
  const invokeConfigs = new Map<string, Record<string, unknown>>();
  for (const [logicalId, resource] of ofType('AWS::Lambda::EventInvokeConfig')) {
    const p = props(resource);
    const fnRef = p.FunctionName as { Ref?: unknown } | undefined;
    const target = typeof fnRef?.Ref === 'string' ? fnRef.Ref : undefined;
    if (target === undefined) {
      throw new UnsupportedIntrinsicError(
        `${logicalId}.FunctionName: expected {Ref: <function>}, got ${quote(p.FunctionName)}`,
      );
    }
    invokeConfigs.set(target, resolve(p, logicalId) as Record<string, unknown>);
  }

  // Functions.
  const functions: LocalFunction[] = ofType('AWS::Lambda::Function').map(([logicalId, resource]) => {
    const handler = resource.Metadata?.[HANDLER_METADATA_KEY];
    if (typeof handler !== 'string' || handler === '') {
      throw new TemplateShapeError(
        `${logicalId}: AWS::Lambda::Function without ${quote(HANDLER_METADATA_KEY)} metadata: the local runtime cannot bind it to a module under lambdas/`,
      );
    }
    const p = props(resource);
    const variables = ((p.Environment as { Variables?: unknown } | undefined)?.Variables ?? {}) as Record<
      string,
      unknown
    >;
    const environment: Record<string, string> = {};
    for (const [key, value] of Object.entries(variables)) {
      const resolved = resolve(value, `${logicalId}.Environment.Variables.${key}`);
      if (resolved === NO_VALUE) continue;
      environment[key] = typeof resolved === 'string' ? resolved : String(resolved);
    }
    const deadLetter = (p.DeadLetterConfig as { TargetArn?: unknown } | undefined)?.TargetArn;
    const config = invokeConfigs.get(logicalId);
    const onFailure = (config?.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)
      ?.OnFailure?.Destination;
    return {
      logicalId,
      name: nameOf(logicalId),
      arn: arnOf(logicalId, logicalId),
      handler,
      environment,
      timeoutSeconds: p.Timeout !== undefined ? Number(resolve(p.Timeout, `${logicalId}.Timeout`)) : 3,
      memorySize: p.MemorySize !== undefined ? Number(resolve(p.MemorySize, `${logicalId}.MemorySize`)) : 128,
      ...(deadLetter !== undefined
        ? { deadLetterArn: str(deadLetter, `${logicalId}.DeadLetterConfig`) }
        : {}),
      asyncInvoke: {
        maximumRetryAttempts:
          config?.MaximumRetryAttempts !== undefined ? Number(config.MaximumRetryAttempts) : 2,
        maximumEventAgeInSeconds:
          config?.MaximumEventAgeInSeconds !== undefined ? Number(config.MaximumEventAgeInSeconds) : 21_600,
        ...(typeof onFailure === 'string' ? { onFailureDestination: onFailure } : {}),
      },
    };
  });

  // State machines.
  const stateMachines: LocalStateMachine[] = ofType('AWS::StepFunctions::StateMachine').map(
    ([logicalId, resource]) => {
      const p = props(resource);
      let definitionString: string;
      if (p.DefinitionString !== undefined) {
        definitionString = str(p.DefinitionString, `${logicalId}.DefinitionString`);
      } else if (p.Definition !== undefined) {
        definitionString = JSON.stringify(resolve(p.Definition, `${logicalId}.Definition`));
      } else {
        throw new TemplateShapeError(
          `${logicalId}: the local runtime needs an inline DefinitionString or Definition (got ${Object.keys(p).join(', ')})`,
        );
      }
      if (p.DefinitionSubstitutions !== undefined) {
        const substitutions = resolve(
          p.DefinitionSubstitutions,
          `${logicalId}.DefinitionSubstitutions`,
        ) as Record<string, unknown>;
        definitionString = definitionString.replace(/\$\{([^}]+)\}/g, (whole, key: string) =>
          key in substitutions ? String(substitutions[key]) : whole,
        );
      }
      try {
        JSON.parse(definitionString);
      } catch (error) {
        throw new TemplateShapeError(
          `${logicalId}: the resolved definition is not JSON (${(error as Error).message})`,
        );
      }
      const type = p.StateMachineType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD';
      return {
        logicalId,
        name: nameOf(logicalId),
        arn: arnOf(logicalId, logicalId),
        definitionString,
        roleArn:
          p.RoleArn !== undefined
            ? str(p.RoleArn, `${logicalId}.RoleArn`)
            : `arn:${partition}:iam::${account}:role/phoenix-local-states`,
        type,
      };
    },
  );

  // Rules.
  const functionByArn = new Map(functions.map((fn) => [fn.arn, fn]));
  const machineByArn = new Map(stateMachines.map((sm) => [sm.arn, sm]));
  const rules: LocalRule[] = ofType('AWS::Events::Rule').map(([logicalId, resource]) => {
    const p = props(resource);
    const targets = ((p.Targets ?? []) as Record<string, unknown>[]).map((raw, index): LocalRuleTarget => {
      const where = `${logicalId}.Targets[${index}]`;
      const target = resolve(raw, where) as Record<string, unknown>;
      const arn = str(target.Arn, `${where}.Arn`);
      const id = typeof target.Id === 'string' ? target.Id : `Target${index}`;
      let kind: LocalRuleTargetKind;
      let targetLogicalId: string | undefined;
      if (functionByArn.has(arn)) {
        kind = 'lambda';
        targetLogicalId = functionByArn.get(arn)!.logicalId;
      } else if (machineByArn.has(arn)) {
        kind = 'state-machine';
        targetLogicalId = machineByArn.get(arn)!.logicalId;
      } else if (/^arn:[^:]+:sqs:/.test(arn)) {
        kind = 'sqs';
      } else if (/^arn:[^:]+:events:[^:]*:[^:]*:event-bus\//.test(arn)) {
        kind = 'event-bus';
      } else {
        throw new UnsupportedIntrinsicError(
          `${where}: the local runtime cannot deliver to target ${quote(arn)} (supported: this template's functions and state machines, SQS queues, event buses)`,
        );
      }
      const retry = target.RetryPolicy as
        { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number } | undefined;
      const deadLetter = (target.DeadLetterConfig as { Arn?: string } | undefined)?.Arn;
      return {
        id,
        arn,
        kind,
        ...(targetLogicalId !== undefined ? { targetLogicalId } : {}),
        ...(deadLetter !== undefined ? { deadLetterArn: deadLetter } : {}),
        retryPolicy: {
          maximumRetryAttempts: retry?.MaximumRetryAttempts ?? 185,
          maximumEventAgeInSeconds: retry?.MaximumEventAgeInSeconds ?? 86_400,
        },
        ...(typeof target.Input === 'string' ? { input: target.Input } : {}),
        ...(typeof target.InputPath === 'string' ? { inputPath: target.InputPath } : {}),
        ...(target.InputTransformer !== undefined
          ? { inputTransformer: target.InputTransformer as NonNullable<LocalRuleTarget['inputTransformer']> }
          : {}),
        ...(target.SqsParameters !== undefined
          ? { sqsParameters: target.SqsParameters as NonNullable<LocalRuleTarget['sqsParameters']> }
          : {}),
      };
    });
    const pattern =
      p.EventPattern !== undefined ? resolve(p.EventPattern, `${logicalId}.EventPattern`) : undefined;
    const schedule =
      p.ScheduleExpression !== undefined
        ? str(p.ScheduleExpression, `${logicalId}.ScheduleExpression`)
        : undefined;
    return {
      logicalId,
      name: nameOf(logicalId),
      arn: arnOf(logicalId, logicalId),
      eventBusName: ruleBusName(logicalId),
      ...(pattern !== undefined
        ? { eventPattern: typeof pattern === 'string' ? pattern : JSON.stringify(pattern) }
        : {}),
      ...(schedule !== undefined ? { scheduleExpression: schedule } : {}),
      state: p.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
      ...(typeof p.Description === 'string' ? { description: p.Description } : {}),
      targets,
    };
  });

  const findFunction = (nameOrArn: string): LocalFunction | undefined => {
    const match = /^arn:[^:]+:lambda:[^:]+:[^:]+:function:([^:]+)(?::[^:]+)?$/.exec(nameOrArn);
    const name = match?.[1] ?? nameOrArn.replace(/:(\$LATEST|[A-Za-z0-9_-]+)$/, '');
    return functions.find((fn) => fn.name === name || fn.name === nameOrArn);
  };
  const findQueue = (arnUrlOrName: string): LocalQueue | undefined =>
    queues.find((q) => q.arn === arnUrlOrName || q.url === arnUrlOrName || q.name === arnUrlOrName);

  return {
    region,
    account,
    partition,
    endpoint,
    eventBuses,
    queues,
    tables,
    functions,
    rules,
    stateMachines,
    resolve: (value, where) => {
      const resolved = resolve(value, where);
      return resolved === NO_VALUE ? undefined : resolved;
    },
    findFunction,
    findQueue,
  };
}

const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}
