/**
 * One reader per resource type the local runtime provisions or runs: the template's resources of
 * that type, resolved into the model's plain records.
 */
import { HANDLER_METADATA_KEY } from '../../lambdas/domain/contract';
import {
  TemplateShapeError,
  UnsupportedIntrinsicError,
  type CfnResource,
  type LocalEventBus,
  type LocalFunction,
  type LocalQueue,
  type LocalRule,
  type LocalRuleTarget,
  type LocalRuleTargetKind,
  type LocalStateMachine,
  type LocalTable,
} from './model';
import { NO_VALUE, quote, type Resolver } from './resolver';

const props = (resource: CfnResource): Record<string, unknown> => resource.Properties ?? {};

export function eventBusesOf(r: Resolver): LocalEventBus[] {
  return r.ofType('AWS::Events::EventBus').map(([logicalId]) => ({
    logicalId,
    name: r.nameOf(logicalId),
    arn: r.arnOf(logicalId, logicalId),
  }));
}

/** CreateQueue attributes the local runtime passes on (strings, as SQS takes them). */
const QUEUE_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
];

export function queuesOf(r: Resolver): LocalQueue[] {
  return r.ofType('AWS::SQS::Queue').map(([logicalId, resource]) => {
    const p = props(resource);
    const attributes: Record<string, string> = {};
    for (const key of QUEUE_ATTRIBUTES) {
      if (p[key] !== undefined) attributes[key] = String(r.resolve(p[key], `${logicalId}.${key}`));
    }
    if (p.RedrivePolicy !== undefined) {
      attributes.RedrivePolicy = JSON.stringify(r.resolve(p.RedrivePolicy, `${logicalId}.RedrivePolicy`));
    }
    const name = r.nameOf(logicalId);
    return {
      logicalId,
      name,
      arn: r.arnOf(logicalId, logicalId),
      url: `${r.endpoint}/${r.account}/${name}`,
      attributes,
    };
  });
}

export function tablesOf(r: Resolver): LocalTable[] {
  return r.ofType('AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable').map(([logicalId, resource]) => {
    const p = r.resolve(
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
      name: r.nameOf(logicalId),
      arn: r.arnOf(logicalId, logicalId),
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
  });
}

// ---- functions ---------------------------------------------------------------------------------

export function functionsOf(r: Resolver): LocalFunction[] {
  const invokeConfigs = invokeConfigsOf(r);
  return r.ofType('AWS::Lambda::Function').map(([logicalId, resource]) => {
    const handler = resource.Metadata?.[HANDLER_METADATA_KEY];
    if (typeof handler !== 'string' || handler === '') {
      throw new TemplateShapeError(
        `${logicalId}: AWS::Lambda::Function without ${quote(HANDLER_METADATA_KEY)} metadata: the local runtime cannot bind it to a module under lambdas/`,
      );
    }
    const p = props(resource);
    const environment = environmentOf(r, logicalId, p);
    const deadLetter = (p.DeadLetterConfig as { TargetArn?: unknown } | undefined)?.TargetArn;
    return {
      logicalId,
      name: r.nameOf(logicalId),
      arn: r.arnOf(logicalId, logicalId),
      handler,
      environment,
      timeoutSeconds: p.Timeout !== undefined ? Number(r.resolve(p.Timeout, `${logicalId}.Timeout`)) : 3,
      memorySize:
        p.MemorySize !== undefined ? Number(r.resolve(p.MemorySize, `${logicalId}.MemorySize`)) : 128,
      ...(deadLetter !== undefined
        ? { deadLetterArn: r.str(deadLetter, `${logicalId}.DeadLetterConfig`) }
        : {}),
      asyncInvoke: asyncInvokeOf(invokeConfigs.get(logicalId)),
    };
  });
}

/** The resolved AWS::Lambda::EventInvokeConfig of each function, by the function's logical id. */
function invokeConfigsOf(r: Resolver): Map<string, Record<string, unknown>> {
  const invokeConfigs = new Map<string, Record<string, unknown>>();
  for (const [logicalId, resource] of r.ofType('AWS::Lambda::EventInvokeConfig')) {
    const p = props(resource);
    const fnRef = p.FunctionName as { Ref?: unknown } | undefined;
    const target = typeof fnRef?.Ref === 'string' ? fnRef.Ref : undefined;
    if (target === undefined) {
      throw new UnsupportedIntrinsicError(
        `${logicalId}.FunctionName: expected {Ref: <function>}, got ${quote(p.FunctionName)}`,
      );
    }
    invokeConfigs.set(target, r.resolve(p, logicalId) as Record<string, unknown>);
  }
  return invokeConfigs;
}

function environmentOf(r: Resolver, logicalId: string, p: Record<string, unknown>): Record<string, string> {
  const variables = ((p.Environment as { Variables?: unknown } | undefined)?.Variables ?? {}) as Record<
    string,
    unknown
  >;
  const environment: Record<string, string> = {};
  for (const [key, value] of Object.entries(variables)) {
    const resolved = r.resolve(value, `${logicalId}.Environment.Variables.${key}`);
    if (resolved === NO_VALUE) continue;
    environment[key] = typeof resolved === 'string' ? resolved : String(resolved);
  }
  return environment;
}

/** Lambda's asynchronous invocation settings (defaults as in AWS: 2 retries, 6 hours). */
function asyncInvokeOf(config: Record<string, unknown> | undefined): LocalFunction['asyncInvoke'] {
  const onFailure = (config?.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)
    ?.OnFailure?.Destination;
  return {
    maximumRetryAttempts:
      config?.MaximumRetryAttempts !== undefined ? Number(config.MaximumRetryAttempts) : 2,
    maximumEventAgeInSeconds:
      config?.MaximumEventAgeInSeconds !== undefined ? Number(config.MaximumEventAgeInSeconds) : 21_600,
    ...(typeof onFailure === 'string' ? { onFailureDestination: onFailure } : {}),
  };
}

// ---- state machines ----------------------------------------------------------------------------

export function stateMachinesOf(r: Resolver): LocalStateMachine[] {
  return r.ofType('AWS::StepFunctions::StateMachine').map(([logicalId, resource]) => {
    const p = props(resource);
    const definitionString = definitionOf(r, logicalId, p);
    return {
      logicalId,
      name: r.nameOf(logicalId),
      arn: r.arnOf(logicalId, logicalId),
      definitionString,
      roleArn:
        p.RoleArn !== undefined
          ? r.str(p.RoleArn, `${logicalId}.RoleArn`)
          : `arn:${r.partition}:iam::${r.account}:role/phoenix-local-states`,
      type: p.StateMachineType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
    };
  });
}

/** The definition JSON, every token and DefinitionSubstitution resolved. */
function definitionOf(r: Resolver, logicalId: string, p: Record<string, unknown>): string {
  let definitionString: string;
  if (p.DefinitionString !== undefined) {
    definitionString = r.str(p.DefinitionString, `${logicalId}.DefinitionString`);
  } else if (p.Definition !== undefined) {
    definitionString = JSON.stringify(r.resolve(p.Definition, `${logicalId}.Definition`));
  } else {
    throw new TemplateShapeError(
      `${logicalId}: the local runtime needs an inline DefinitionString or Definition (got ${Object.keys(p).join(', ')})`,
    );
  }
  if (p.DefinitionSubstitutions !== undefined) {
    const substitutions = r.resolve(
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
  return definitionString;
}

// ---- rules -------------------------------------------------------------------------------------

/** Rules and their targets; a target is classified against the template's functions and state machines. */
export function rulesOf(
  r: Resolver,
  functions: readonly LocalFunction[],
  stateMachines: readonly LocalStateMachine[],
): LocalRule[] {
  const known = {
    functionByArn: new Map(functions.map((fn) => [fn.arn, fn])),
    machineByArn: new Map(stateMachines.map((sm) => [sm.arn, sm])),
  };
  return r.ofType('AWS::Events::Rule').map(([logicalId, resource]) => {
    const p = props(resource);
    const targets = ((p.Targets ?? []) as Record<string, unknown>[]).map((raw, index) =>
      ruleTargetOf(r, known, raw, `${logicalId}.Targets[${index}]`, index),
    );
    const pattern =
      p.EventPattern !== undefined ? r.resolve(p.EventPattern, `${logicalId}.EventPattern`) : undefined;
    const schedule =
      p.ScheduleExpression !== undefined
        ? r.str(p.ScheduleExpression, `${logicalId}.ScheduleExpression`)
        : undefined;
    return {
      logicalId,
      name: r.nameOf(logicalId),
      arn: r.arnOf(logicalId, logicalId),
      eventBusName: r.ruleBusName(logicalId),
      ...(pattern !== undefined
        ? { eventPattern: typeof pattern === 'string' ? pattern : JSON.stringify(pattern) }
        : {}),
      ...(schedule !== undefined ? { scheduleExpression: schedule } : {}),
      state: p.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
      ...(typeof p.Description === 'string' ? { description: p.Description } : {}),
      targets,
    };
  });
}

interface KnownTargets {
  readonly functionByArn: ReadonlyMap<string, LocalFunction>;
  readonly machineByArn: ReadonlyMap<string, LocalStateMachine>;
}

function ruleTargetOf(
  r: Resolver,
  known: KnownTargets,
  raw: Record<string, unknown>,
  where: string,
  index: number,
): LocalRuleTarget {
  const target = r.resolve(raw, where) as Record<string, unknown>;
  const arn = r.str(target.Arn, `${where}.Arn`);
  const id = typeof target.Id === 'string' ? target.Id : `Target${index}`;
  const { kind, targetLogicalId } = targetKindOf(known, arn, where);
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
}

function targetKindOf(
  known: KnownTargets,
  arn: string,
  where: string,
): { kind: LocalRuleTargetKind; targetLogicalId?: string } {
  const fn = known.functionByArn.get(arn);
  if (fn !== undefined) return { kind: 'lambda', targetLogicalId: fn.logicalId };
  const machine = known.machineByArn.get(arn);
  if (machine !== undefined) return { kind: 'state-machine', targetLogicalId: machine.logicalId };
  if (/^arn:[^:]+:sqs:/.test(arn)) return { kind: 'sqs' };
  if (/^arn:[^:]+:events:[^:]*:[^:]*:event-bus\//.test(arn)) return { kind: 'event-bus' };
  // The emulator's EventBridge writes into CloudWatch Logs log groups itself (a log stream per event).
  if (/^arn:[^:]+:logs:[^:]*:[^:]*:log-group:/.test(arn)) return { kind: 'log-group' };
  throw new UnsupportedIntrinsicError(
    `${where}: the local runtime cannot deliver to target ${quote(arn)} (supported: this template's functions and state machines, SQS queues, event buses, log groups)`,
  );
}
