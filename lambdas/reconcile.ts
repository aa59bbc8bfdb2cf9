/** The reconcile sweep, on its schedule (EC2 + Auto Scaling + DynamoDB + Step Functions + EventBridge). */
import { Env } from './domain/contract';
import { logger, metrics, wrap } from './powertools';
import { runReconcile } from './steps/reconcile';
import { MetricUnit } from '@aws-lambda-powertools/metrics';

export const handler = wrap('reconcile', async () => {
  const timeout = Number(process.env[Env.replaceTimeoutSeconds] ?? '3600');
  const report = await runReconcile({
    replaceTimeoutSeconds: Number.isFinite(timeout) && timeout > 0 ? timeout : 3600,
  });
  const { details: _details, ...summary } = report;
  logger.info('reconcile done', { result: summary });
  metrics.addMetric('ReconcileDifferences', MetricUnit.Count, report.differences);
  metrics.addMetric('ReconcileApiCalls', MetricUnit.Count, report.apiCalls);
  return summary;
});
