/** Intake Lambda: EventBridge rules deliver image publications here. */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics, wrap } from './powertools';
import { runIntake } from './steps/intake';

export const handler = wrap('intake', async (event: unknown, context) => {
  // The event's claim lasts as long as this invocation can: a claim past it was abandoned (the
  // runtime died or timed out), and the next delivery takes it over.
  const result = await runIntake(event, undefined, Math.ceil(context.getRemainingTimeInMillis() / 1000));
  if (result.intent === 'ignore') {
    logger.info('event ignored', { reason: result.reason });
    metrics.addMetric('EventsIgnored', MetricUnit.Count, 1);
  } else {
    logger.info('rollouts started', {
      imageId: result.imageId,
      channel: result.channel,
      started: result.started,
      replacements: result.replacements,
    });
    metrics.addMetric('RolloutsStarted', MetricUnit.Count, result.started.filter((s) => !s.duplicate).length);
    const replacements = (result.replacements ?? []).filter((r) => r.requested && r.duplicate === false);
    if (replacements.length > 0)
      metrics.addMetric('ReplacementsStarted', MetricUnit.Count, replacements.length);
  }
  return result;
});
