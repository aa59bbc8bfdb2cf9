/**
 * The synthesized template, and the plain model the local runtime makes of it: physical names,
 * ARNs and resolved values for the few places the runtime needs (function environments, rule
 * buses and patterns, targets, queue attributes, state machine definitions).
 */

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

export type LocalRuleTargetKind = 'lambda' | 'state-machine' | 'sqs' | 'event-bus' | 'log-group';

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
