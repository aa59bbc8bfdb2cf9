/** The promotion check, on its schedule (Auto Scaling + EC2 + DynamoDB + SSM + CloudWatch + EventBridge). */
import { logger, metrics, wrap } from './powertools';
import { runPromotion } from './steps/promote';
import { MetricUnit } from '@aws-lambda-powertools/metrics';

export const handler = wrap('promote', async () => {
  const report = await runPromotion();
  const summary = {
    channels: report.channels.map((c) => ({
      channel: c.channel,
      from: c.from,
      decision: c.decision.kind,
      imageId: c.candidate,
      action: c.action,
      reason: c.decision.reason,
    })),
    upstreamFleets: report.upstreamFleets,
    apiCalls: report.apiCalls,
  };
  logger.info('promotion check done', { result: summary });
  metrics.addMetric('PromotionCheckApiCalls', MetricUnit.Count, report.apiCalls);
  metrics.addMetric(
    'ImagesPromoted',
    MetricUnit.Count,
    report.channels.filter((c) => c.action === 'promoted').length,
  );
  return summary;
});
