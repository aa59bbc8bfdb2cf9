/**
 * Which Phoenix installation a CLI command reads: region, endpoints, the fleet table and the
 * Rollout state machine, from the command's options or the environment.
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
}

export interface Target {
  readonly region: string;
  readonly tableName: string;
  readonly stateMachineArn?: string;
  readonly endpointUrl?: string;
  readonly sfnEndpointUrl?: string;
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
  return {
    region,
    tableName,
    ...(stateMachineArn !== undefined ? { stateMachineArn } : {}),
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
  if (target.endpointUrl !== undefined) env['AWS_ENDPOINT_URL'] = target.endpointUrl;
  if (target.sfnEndpointUrl !== undefined) env['AWS_ENDPOINT_URL_SFN'] = target.sfnEndpointUrl;
  return target;
}
