/**
 * `phoenix chaos [--at <ISO time>] [--dry-run]`: run one chaos period (lambdas/steps/chaos.ts, the
 * very code the scheduled function runs) now, or as if at `--at`, against the configured target
 * (see cli/target.ts): decisions per fleet, kills made (with `ChaosKill`/`ChaosSkipped` outcomes),
 * or with `--dry-run` only the decisions. The period is `--period-seconds`, else
 * `$PHOENIX_CHAOS_PERIOD_SECONDS`, else 3600 (the default schedule); the bus `--event-bus-name`,
 * `$PHOENIX_EVENT_BUS_NAME`, else `phoenix`.
 *
 * It terminates instances: it asks for confirmation on a terminal unless `--yes`, and without a
 * terminal it refuses unless `--yes` or `--dry-run` (`confirmChaos`).
 */
import { createInterface } from 'node:readline/promises';
import { Env } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import { type ChaosReport, runChaos } from '../lambdas/steps/chaos';

export interface ChaosOptions {
  /** ISO-8601: run the period that holds this time (default now). */
  readonly at?: string;
  readonly periodSeconds?: number;
  readonly eventBusName?: string;
  /** Only decide: claim nothing, terminate nothing, put no outcome. */
  readonly dryRun?: boolean;
}

export async function chaosNow(
  options: ChaosOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ChaosReport> {
  let now = new Date();
  if (options.at !== undefined) {
    const at = /^\d{4}-\d{2}-\d{2}T/.test(options.at) ? new Date(options.at) : new Date(NaN);
    if (!Number.isFinite(at.getTime())) {
      throw new ConfigurationError(
        `--at must be an ISO-8601 time (e.g. 2026-11-27T10:30:00Z), got ${JSON.stringify(options.at)}`,
      );
    }
    now = at;
  }
  const fromEnv = env[Env.chaosPeriodSeconds]?.trim();
  const periodSeconds = options.periodSeconds ?? (fromEnv ? Number(fromEnv) : 3600);
  if (!Number.isInteger(periodSeconds) || periodSeconds < 60) {
    throw new ConfigurationError(
      `the chaos period must be a whole number of seconds, at least 60 (--period-seconds or ${Env.chaosPeriodSeconds}), got ${JSON.stringify(options.periodSeconds ?? fromEnv)}`,
    );
  }
  env[Env.eventBusName] = options.eventBusName?.trim() || env[Env.eventBusName]?.trim() || 'phoenix';
  return runChaos({ now, periodSeconds, act: !options.dryRun });
}

/** One line per fleet: what chaos decided and why. */
export function renderChaos(report: ChaosReport, dryRun: boolean): string {
  const lines = [
    `chaos period ${report.period} (${report.periodSeconds} s), run at ${report.at}${dryRun ? ' (dry run)' : ''}: ` +
      `${report.fleets} chaos fleet(s), ${report.kills} kill(s), ${report.apiCalls} AWS call(s)`,
  ];
  const width = Math.max(5, ...report.decisions.map((d) => d.fleet.length));
  for (const d of report.decisions) {
    const p = d.probability !== undefined ? ` p=${d.probability.toFixed(4)}` : '';
    const line =
      d.action === 'kill'
        ? `${d.dryRun ? 'would kill' : 'killed'} ${d.instanceId} of ${d.groupName}${p}`
        : `no kill (${d.code}): ${d.reason}${d.code === 'dice' ? '' : p}`;
    lines.push(`  ${d.fleet.padEnd(width)}  ${line}`);
  }
  if (report.decisions.length === 0) lines.push(`  no group is tagged phoenix:chaos`);
  return lines.join('\n');
}

/** `phoenix chaos` was not confirmed: declined at the prompt, or no terminal to ask and no --yes. */
export class ChaosNotConfirmedError extends Error {
  override readonly name = 'ChaosNotConfirmedError';
}

export interface ConfirmOptions {
  readonly yes?: boolean;
  readonly dryRun?: boolean;
  /** Where the answer comes from (default stdin) and the question goes (default stderr). */
  readonly input?: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly output?: NodeJS.WritableStream;
  /** Named in the question: where the kills would happen. */
  readonly target?: string;
}

/**
 * Go ahead with a chaos period? `--yes` or `--dry-run`: yes. Otherwise ask on the terminal (an
 * answer of y or yes goes ahead); without a terminal, or declined: ChaosNotConfirmedError.
 */
export async function confirmChaos(options: ConfirmOptions): Promise<void> {
  if (options.yes === true || options.dryRun === true) return;
  const input = options.input ?? process.stdin;
  if (input.isTTY !== true) {
    throw new ChaosNotConfirmedError(
      'phoenix chaos terminates instances and there is no terminal to confirm it: pass --yes to run it, or --dry-run to only see the decisions',
    );
  }
  const rl = createInterface({ input, output: options.output ?? process.stderr, terminal: false });
  try {
    const answer = await rl.question(
      `phoenix chaos may terminate a random instance of each fleet tagged phoenix:chaos${options.target !== undefined ? ` (${options.target})` : ''}. Go ahead? [y/N] `,
    );
    if (!/^\s*y(es)?\s*$/i.test(answer)) {
      throw new ChaosNotConfirmedError('phoenix chaos: not confirmed, nothing done');
    }
  } finally {
    rl.close();
  }
}
