/**
 * `phoenix reconcile [<fleet>]`: run the reconcile sweep (lambdas/steps/reconcile.ts, the very code
 * the scheduled function runs) on demand against the configured endpoint: differences found,
 * Replace executions started (same names as the event path), dead slots reclaimed, outcomes put.
 *
 * The environment says where (see cli/target.ts); the Replace state machine is
 * `--replace-state-machine-arn` or `$PHOENIX_REPLACE_STATE_MACHINE_ARN`, the bus
 * `--event-bus-name`, `$PHOENIX_EVENT_BUS_NAME`, else `phoenix`.
 */
import { Env, NAME_PATTERN } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import { type ReconcileReport, runReconcile } from '../lambdas/steps/reconcile';

export interface ReconcileOptions {
  readonly fleet?: string;
  readonly replaceStateMachineArn?: string;
  readonly eventBusName?: string;
  /** Only report (start nothing, reclaim nothing, put no outcome). */
  readonly dryRun?: boolean;
}

export async function reconcileNow(
  options: ReconcileOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ReconcileReport> {
  if (options.fleet !== undefined && !NAME_PATTERN.test(options.fleet)) {
    throw new ConfigurationError(`not a fleet name: ${JSON.stringify(options.fleet)}`);
  }
  const arn = options.replaceStateMachineArn?.trim() || env[Env.replaceStateMachineArn]?.trim();
  if (!options.dryRun && !arn) {
    throw new ConfigurationError(
      `no Replace state machine: pass --replace-state-machine-arn <arn> or set ${Env.replaceStateMachineArn} (phoenix local prints it in its export line; in AWS it is the stack output ReplaceStateMachineArn), or --dry-run`,
    );
  }
  if (arn) env[Env.replaceStateMachineArn] = arn;
  env[Env.eventBusName] = options.eventBusName?.trim() || env[Env.eventBusName]?.trim() || 'phoenix';
  return runReconcile({
    ...(options.fleet !== undefined ? { fleet: options.fleet } : {}),
    act: !options.dryRun,
  });
}
