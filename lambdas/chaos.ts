/**
 * Chaos mode, on its schedule (Auto Scaling + DynamoDB + EventBridge): one period per invocation.
 * The period is the scheduled event's `time` (EventBridge's scheduled time; a retried delivery
 * carries the same one, so it decides the same and its claim finds the kill already made).
 */
import * as clock from './domain/clock';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { Env } from './domain/contract';
import { ConfigurationError } from './domain/errors';
import { logger, metrics, wrap } from './powertools';
import { runChaos } from './steps/chaos';

/** EventBridge's Scheduled Event (only `time` is read). */
interface ScheduledEvent {
  readonly time?: string;
}

export const handler = wrap('chaos', async (event: ScheduledEvent | undefined) => {
  const periodSeconds = Number(process.env[Env.chaosPeriodSeconds]);
  if (!Number.isFinite(periodSeconds) || periodSeconds <= 0) {
    throw new ConfigurationError(
      `${Env.chaosPeriodSeconds} must be a positive number of seconds, got ${JSON.stringify(process.env[Env.chaosPeriodSeconds])}`,
    );
  }
  const scheduled = typeof event?.time === 'string' ? new Date(event.time) : undefined;
  const now = scheduled !== undefined && Number.isFinite(scheduled.getTime()) ? scheduled : clock.now();
  const report = await runChaos({ now, periodSeconds });
  for (const d of report.decisions) {
    if (d.action === 'kill') logger.info('chaos kill', { decision: d });
    else if (d.code === 'dice') logger.debug('chaos: no kill this period', { decision: d });
    else logger.info('chaos: no kill', { decision: d });
  }
  const { decisions: _decisions, ...summary } = report;
  logger.info('chaos period done', { result: summary });
  metrics.addMetric('ChaosKills', MetricUnit.Count, report.kills);
  return summary;
});
