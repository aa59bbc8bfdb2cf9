/**
 * The metrics Phoenix emits (lambdas/aws/metrics.ts writes them; the dashboard and the outcome
 * alarms of lib/capabilities/observability.ts read them): one namespace, few dimensions. Listed
 * with their meaning in docs/alarms.md (Metrics).
 *
 * Pure module: no SDK imports.
 */
export const PhoenixMetrics = {
  namespace: 'Phoenix',
  /** The default dimension Powertools adds to every metric: `service=phoenix`. */
  service: 'phoenix',
  /** Count, dimension `Outcome` (the detail-type): one per outcome put on the bus. */
  outcomes: 'Outcomes',
  /** Count, dimensions `Outcome` (InstanceReplaced, ReplacementFailed) and `Cause`: one per replacement ended. */
  replacements: 'Replacements',
  /** Seconds, dimension `Cause`: from the need seen (the event's time) to the replacement serving. */
  timeToHeal: 'TimeToHeal',
  /** Count: an AWS call still throttled after the SDK's own retries. */
  throttles: 'Throttles',
} as const;
