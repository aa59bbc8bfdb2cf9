import * as fs from 'node:fs';
import * as path from 'node:path';
import { Aws, CfnResource, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { HANDLER_METADATA_KEY, type HandlerName, Handlers } from '../lambdas/domain/contract';
import { skipCheckov } from './checkov';
import { grantLogGroupEncryption } from './encryption';

/**
 * The package root: the nearest directory above this module with a `package.json`. This module
 * runs from `<root>/lib` (the repository, through tsx) or from `<root>/dist/lib` (the installed
 * package, compiled); either way the handlers' TypeScript sources are in `<root>/lambdas`.
 */
const PACKAGE_ROOT = findPackageRoot(__dirname);

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`No package.json above ${from}`);
  }
}

/**
 * What `NodejsFunction` takes as the lock file: the repository's `package-lock.json`, or, in an
 * installed package (npm never packs the lock file), the package's own `package.json`. It must lie
 * under the project root (the package root); local bundling with no `nodeModules` installs nothing
 * and reads it only for the package manager that runs esbuild (npm, for either file name).
 */
function depsLockFilePath(): string {
  const lockFile = path.join(PACKAGE_ROOT, 'package-lock.json');
  return fs.existsSync(lockFile) ? lockFile : path.join(PACKAGE_ROOT, 'package.json');
}

/**
 * How many concurrent executions each handler reserves by default: its ceiling (so that an event
 * storm cannot take the account's whole Lambda concurrency) and its floor (nothing else can take
 * its share). 82 in all: the account must keep at least 100 unreserved (docs/security.md).
 * - intake 20: every event of every source; EventBridge retries throttled deliveries (the async
 *   queue keeps them up to 6 hours), so a storm is smoothed, not dropped;
 * - rollout-fleet, rollout-record 20 each: each Rollout execution runs one step at a time, and at
 *   most `maxConcurrentRollouts` (default 10) run at once (the control plane raises these two
 *   with it);
 * - replace, drain 10 each: one Replace or Drain execution per instance, its steps short and
 *   retried when throttled;
 * - reconcile 1, chaos 1: one sweep, one chaos period at a time, on a schedule.
 */
export const DEFAULT_RESERVED_CONCURRENCY: Readonly<Record<HandlerName, number>> = {
  [Handlers.intake]: 20,
  [Handlers.rolloutFleet]: 20,
  [Handlers.rolloutRecord]: 20,
  [Handlers.replace]: 10,
  [Handlers.drain]: 10,
  [Handlers.reconcile]: 1,
  [Handlers.chaos]: 1,
  [Handlers.validate]: 2,
};

export interface PhoenixFunctionProps {
  /** The handler: its module is `lambdas/<handlerName>.ts`; also written as `phoenix:handler` metadata. */
  readonly handlerName: HandlerName;
  /**
   * Extra environment variables, merged over the Powertools defaults.
   * @default - only `POWERTOOLS_SERVICE_NAME` and `POWERTOOLS_METRICS_NAMESPACE`
   */
  readonly environment?: Record<string, string>;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the function's log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A description of the function.
   * @default - `Phoenix <handlerName> handler`
   */
  readonly description?: string;
  /**
   * A customer-managed KMS key for the function's log group, its dead-letter queue and its
   * environment variables (the role may use it for the queue; CloudWatch Logs is granted in the
   * key's policy).
   * @default - AWS-owned encryption: CloudWatch Logs' own, SSE-SQS, Lambda's AWS managed key
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How many concurrent executions the function reserves (its ceiling and its floor).
   * @default - `DEFAULT_RESERVED_CONCURRENCY[handlerName]`
   */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * A Phoenix Lambda handler: `lambdas/<name>.ts` (of the package root) bundled locally by esbuild into one self-contained
 * CommonJS file (SDK v3 included, ES modules preferred), on Node.js 24 / arm64, traced, with its own
 * log group, its own execution role and a dead-letter queue for failed asynchronous invocations.
 *
 * The synthesized `AWS::Lambda::Function` carries the metadata `phoenix:handler = <name>`, through
 * which the local runtime binds the template's function to its module.
 */
export class PhoenixFunction extends NodejsFunction {
  /** The handler name (`Handlers`), also the module name under `lambdas/`. */
  public readonly handlerName: HandlerName;
  /** Receives asynchronous invocations that still fail after two retries (e.g. from EventBridge rules). */
  declare public readonly deadLetterQueue: sqs.Queue;
  /** The function's execution role (no managed policies: logs, X-Ray and the DLQ only, plus grants). */
  declare public readonly role: iam.Role;
  /** Where the function logs. */
  public readonly functionLogGroup: logs.LogGroup;
  /** The customer-managed key of its log group, queue and environment, if one was given. */
  public readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: PhoenixFunctionProps) {
    const key = props.encryptionKey;
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      encryptionKey: key,
    });
    if (key) grantLogGroupEncryption(scope, key);
    const deadLetterQueue = new sqs.Queue(scope, `${id}DeadLetterQueue`, {
      ...(key
        ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key }
        : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    // An own role instead of the default one with the AWSLambdaBasicExecutionRole managed policy:
    // this function writes only to its own log group.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the Phoenix ${props.handlerName} handler`,
    });
    logGroup.grantWrite(role);
    if (key) {
      // Lambda sends failed invocations to the queue as this role; SQS encrypts with the key on
      // its behalf (through SQS only).
      iam.Grant.addToPrincipal({
        grantee: role,
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resourceArns: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sqs.${Aws.REGION}.amazonaws.com` } },
      });
    }

    super(scope, id, {
      entry: path.join(PACKAGE_ROOT, 'lambdas', `${props.handlerName}.ts`),
      handler: 'handler',
      projectRoot: PACKAGE_ROOT,
      depsLockFilePath: depsLockFilePath(),
      description: props.description ?? `Phoenix ${props.handlerName} handler`,
      // Pinned, not NODEJS_LATEST: a CDK upgrade must not silently change the deployed runtime.
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(60),
      tracing: lambda.Tracing.ACTIVE,
      reservedConcurrentExecutions:
        props.reservedConcurrentExecutions ?? DEFAULT_RESERVED_CONCURRENCY[props.handlerName],
      environmentEncryption: key,
      role,
      logGroup,
      deadLetterQueue,
      retryAttempts: 2,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'phoenix',
        POWERTOOLS_METRICS_NAMESPACE: 'Phoenix',
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: false,
        target: 'node24',
        format: OutputFormat.CJS,
        // ES module builds of the SDK tree-shake far better: ~0.9 MB instead of ~1.6 MB
        // (docs/architecture.md, "Toolchain facts").
        mainFields: ['module', 'main'],
        // Bundle the SDK v3 too: the artifact is self-contained, pinned and measurable.
        externalModules: [],
        forceDockerBundling: false,
      },
    });
    this.handlerName = props.handlerName;
    this.functionLogGroup = logGroup;
    this.encryptionKey = key;

    (this.node.defaultChild as CfnResource).addMetadata(HANDLER_METADATA_KEY, props.handlerName);
    skipCheckov(this, {
      id: 'CKV_AWS_117',
      comment:
        'No VPC: the function calls only AWS APIs (EC2, Auto Scaling, ELBv2, SSM, DynamoDB, EventBridge, Step Functions, CloudWatch) over TLS with SigV4, reaches no private network resource, and needs no NAT gateway or VPC endpoints this way.',
    });
    if (!key) {
      skipCheckov(this, {
        id: 'CKV_AWS_173',
        comment:
          "The environment holds resource names and settings only, no secrets; Lambda encrypts it at rest with its AWS managed key. Give the control plane's encryptionKey to use a customer-managed key.",
      });
      skipCheckov(logGroup, {
        id: 'CKV_AWS_158',
        comment:
          "CloudWatch Logs encrypts every log group at rest with its own keys; the logs hold Phoenix's decisions (fleet names, instance and image ids), no secrets. Give the control plane's encryptionKey to use a customer-managed key.",
      });
      skipCheckov(deadLetterQueue, SSE_SQS_SKIP);
    }

    // The default policy exists by now: logGroup.grantWrite and the DLQ grant created it.
    Validations.of(role.node.findChild('DefaultPolicy')).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing (Tracing.ACTIVE) needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions. Other statements that need * live in separate policies, each acknowledged there.',
    });
  }
}

/**
 * Checkov's CKV_AWS_27 recognizes only a KMS key (`KmsMasterKeyId`), not SSE-SQS, which encrypts
 * the queue at rest as well; an AWS managed key (`alias/aws/sqs`) would not do for a rule's
 * dead-letter queue, whose policy EventBridge cannot be admitted to.
 */
export const SSE_SQS_SKIP = {
  id: 'CKV_AWS_27',
  comment:
    "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which CKV_AWS_27 does not recognize. Not alias/aws/sqs: EventBridge cannot be admitted to an AWS managed key's policy. Give the control plane's encryptionKey to use a customer-managed key.",
} as const;
