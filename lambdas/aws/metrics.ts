/**
 * The metrics Phoenix emits (CloudWatch embedded metric format, through the function's log: no
 * `cloudwatch:PutMetricData`), in the namespace `Phoenix` with the default dimension
 * `service=phoenix`. Each is written at once as a metric of its own (Powertools `singleMetric`),
 * so that its dimensions are exactly the ones named here (no step or fleet dimension added by the
 * middleware) and nothing waits for the middleware's flush. Listed in docs/alarms.md (Metrics).
 *
 * - `Outcomes` (Count), dimension `Outcome` = the outcome's detail-type: one per outcome put on the
 *   bus. The circuit breaker opening and closing are `Outcome=FleetCircuitOpen|FleetCircuitClosed`.
 * - `Replacements` (Count), dimensions `Outcome` (InstanceReplaced or ReplacementFailed) and
 *   `Cause` (health, interruption, retirement, drift, shell-access): one per replacement ended.
 * - `TimeToHeal` (Seconds), dimension `Cause`: one per `InstanceReplaced` whose need has a time
 *   (`healSeconds`: the event's time, or the sweep's, to the replacement serving).
 * - `Throttles` (Count), no other dimension: an AWS call still throttled after the SDK's retries.
 *
 * No fleet dimension: fleets are many and named at run time (one metric each would be billed).
 * Emitted only inside a Lambda function (`AWS_LAMBDA_FUNCTION_NAME` set): the CLI reuses these
 * adapters (`phoenix pause` puts an outcome), and its stdout belongs to the operator.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DetailTypes, type OutcomeDetails, type OutcomeType } from '../domain/contract';
import { PhoenixMetrics } from '../domain/metric-names';
import { metrics } from '../powertools';

/** Outcomes that end a replacement, counted by cause as `Replacements`. */
const REPLACEMENT_ENDS = new Set<OutcomeType>([DetailTypes.InstanceReplaced, DetailTypes.ReplacementFailed]);

function inLambda(): boolean {
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME;
  return name !== undefined && name !== '';
}

/** One metric with its own dimensions, written at once. */
function emit(
  name: string,
  dimensions: Readonly<Record<string, string>>,
  value = 1,
  unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Count,
): void {
  if (!inLambda()) return;
  const single = metrics.singleMetric();
  for (const [key, v] of Object.entries(dimensions)) single.addDimension(key, v);
  single.addMetric(name, unit, value);
}

/** An outcome was put on the bus: `Outcomes{Outcome}`, and `Replacements{Outcome, Cause}` for a replacement's end. */
export function recordOutcome<T extends OutcomeType>(detailType: T, detail: OutcomeDetails[T]): void {
  emit(PhoenixMetrics.outcomes, { Outcome: detailType });
  if (REPLACEMENT_ENDS.has(detailType)) {
    const { cause } = detail as { cause?: string };
    emit(PhoenixMetrics.replacements, { Outcome: detailType, Cause: cause ?? 'unknown' });
  }
  if (detailType === DetailTypes.InstanceReplaced) {
    const { cause, healSeconds } = detail as OutcomeDetails['InstanceReplaced'];
    if (healSeconds !== undefined) {
      emit(PhoenixMetrics.timeToHeal, { Cause: cause }, healSeconds, MetricUnit.Seconds);
    }
  }
}

/** An AWS call was throttled beyond the SDK's retries: `Throttles`. */
export function recordThrottle(): void {
  emit(PhoenixMetrics.throttles, {});
}
