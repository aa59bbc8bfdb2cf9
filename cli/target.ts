/**
 * Which Phoenix installation a CLI command reads: region, endpoints, the fleet table and the
 * state machines (Rollout, Replace, Drain), from the command's options or the environment.
 *
 * The commands reuse the handlers' adapters (lambdas/aws), which read the SDK's environment
 * (`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SFN`) and Phoenix's own (`PHOENIX_TABLE_NAME`,
 * `PHOENIX_ROLLOUT_STATE_MACHINE_ARN`). `applyTarget` writes the options into this process's
 * environment, before the first client is created; credentials come from the SDK's usual chain.
 */
import { Env } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';

export interface TargetOptions {
  /** The fleet table (default `$PHOENIX_TABLE_NAME`). */
  readonly table?: string;
  /** The Rollout state machine (default `$PHOENIX_ROLLOUT_STATE_MACHINE_ARN`): to read a running rollout's step. */
  readonly stateMachineArn?: string;
  /** Default `$AWS_REGION`, then `$AWS_DEFAULT_REGION`. */
  readonly region?: string;
  /** Every service but Step Functions (default `$AWS_ENDPOINT_URL`, else AWS's regional endpoints). */
  readonly endpointUrl?: string;
  /** Step Functions (default `$AWS_ENDPOINT_URL_SFN`, else `endpointUrl`). */
  readonly sfnEndpointUrl?: string;
  /** The Replace state machine (default `$PHOENIX_REPLACE_STATE_MACHINE_ARN`). */
  readonly replaceStateMachineArn?: string;
  /** The Drain state machine (default `$PHOENIX_DRAIN_STATE_MACHINE_ARN`). */
  readonly drainStateMachineArn?: string;
}

export interface Target {
  readonly region: string;
  readonly tableName: string;
  readonly stateMachineArn?: string;
  readonly endpointUrl?: string;
  readonly sfnEndpointUrl?: string;
  readonly replaceStateMachineArn?: string;
  readonly drainStateMachineArn?: string;
}

const nonEmpty = (value: string | undefined) =>
  value !== undefined && value.trim() !== '' ? value.trim() : undefined;

/** Resolve the target from `options` and `env`; throws a ConfigurationError that says what to pass. */
export function resolveTarget(options: TargetOptions, env: NodeJS.ProcessEnv = process.env): Target {
  const region =
    nonEmpty(options.region) ?? nonEmpty(env['AWS_REGION']) ?? nonEmpty(env['AWS_DEFAULT_REGION']);
  if (region === undefined) {
    throw new ConfigurationError('no region: pass --region <region> or set AWS_REGION');
  }
  const endpointUrl = nonEmpty(options.endpointUrl) ?? nonEmpty(env['AWS_ENDPOINT_URL']);
  const sfnEndpointUrl = nonEmpty(options.sfnEndpointUrl) ?? nonEmpty(env['AWS_ENDPOINT_URL_SFN']);
  const tableName = nonEmpty(options.table) ?? nonEmpty(env[Env.tableName]);
  if (tableName === undefined) {
    throw new ConfigurationError(
      endpointUrl !== undefined
        ? `no fleet table: pass --table <name> or set ${Env.tableName} (phoenix local prints it in its export line)`
        : `no fleet table: pass --table <name> or set ${Env.tableName}. In AWS it is the Phoenix stack's output TableName: ` +
            `aws cloudformation describe-stacks --stack-name Phoenix --query "Stacks[0].Outputs[?OutputKey=='TableName'].OutputValue" --output text`,
    );
  }
  const stateMachineArn = nonEmpty(options.stateMachineArn) ?? nonEmpty(env[Env.rolloutStateMachineArn]);
  const replaceStateMachineArn =
    nonEmpty(options.replaceStateMachineArn) ?? nonEmpty(env[Env.replaceStateMachineArn]);
  const drainStateMachineArn =
    nonEmpty(options.drainStateMachineArn) ?? nonEmpty(env[Env.drainStateMachineArn]);
  return {
    region,
    tableName,
    ...(stateMachineArn !== undefined ? { stateMachineArn } : {}),
    ...(replaceStateMachineArn !== undefined ? { replaceStateMachineArn } : {}),
    ...(drainStateMachineArn !== undefined ? { drainStateMachineArn } : {}),
    ...(endpointUrl !== undefined ? { endpointUrl } : {}),
    ...(sfnEndpointUrl !== undefined ? { sfnEndpointUrl } : {}),
  };
}

/** Resolve the target and put it into `env` (this process's, by default) for the SDK clients and adapters. */
export function applyTarget(options: TargetOptions, env: NodeJS.ProcessEnv = process.env): Target {
  const target = resolveTarget(options, env);
  env['AWS_REGION'] = target.region;
  env[Env.tableName] = target.tableName;
  if (target.stateMachineArn !== undefined) env[Env.rolloutStateMachineArn] = target.stateMachineArn;
  if (target.replaceStateMachineArn !== undefined)
    env[Env.replaceStateMachineArn] = target.replaceStateMachineArn;
  if (target.drainStateMachineArn !== undefined) env[Env.drainStateMachineArn] = target.drainStateMachineArn;
  if (target.endpointUrl !== undefined) env['AWS_ENDPOINT_URL'] = target.endpointUrl;
  if (target.sfnEndpointUrl !== undefined) env['AWS_ENDPOINT_URL_SFN'] = target.sfnEndpointUrl;
  return target;
}

/** The network error codes of an endpoint nobody listens on (or that cannot be reached at all). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH']);

/** The first network error in `error`, its causes and an AggregateError's errors. */
function networkError(
  error: unknown,
  depth = 0,
): { code: string; address?: string; port?: number } | undefined {
  if (typeof error !== 'object' || error === null || depth > 6) return undefined;
  const e = error as { code?: unknown; address?: unknown; port?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && UNREACHABLE.has(e.code)) {
    return {
      code: e.code,
      ...(typeof e.address === 'string' ? { address: e.address } : {}),
      ...(typeof e.port === 'number' ? { port: e.port } : {}),
    };
  }
  for (const inner of [e.cause, ...(Array.isArray(e.errors) ? (e.errors as unknown[]) : [])]) {
    const found = networkError(inner, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * What to tell the operator when the endpoint refused the connection (or was not found): the
 * endpoint and whether `phoenix local` is running; undefined for any other error.
 */
export function unreachableMessage(error: unknown, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const found = networkError(error);
  if (found === undefined) return undefined;
  const configured = nonEmpty(env['AWS_ENDPOINT_URL']);
  const sfn = nonEmpty(env['AWS_ENDPOINT_URL_SFN']);
  const seen =
    found.address !== undefined && found.port !== undefined ? `${found.address}:${found.port}` : undefined;
  const endpoint =
    sfn !== undefined && found.port !== undefined && sfn.endsWith(`:${found.port}`)
      ? sfn
      : (configured ?? sfn ?? seen ?? 'the AWS endpoint');
  if (configured !== undefined || sfn !== undefined) {
    const what = found.code === 'ECONNREFUSED' ? 'refused the connection' : 'cannot be reached';
    return `is \`phoenix local\` running? (endpoint ${endpoint} ${what}: ${found.code}; phoenix local prints the export line to use)`;
  }
  return `cannot reach AWS (${found.code}${seen !== undefined ? ` at ${seen}` : ''}): check the network and --region, or set AWS_ENDPOINT_URL (is \`phoenix local\` running?)`;
}
