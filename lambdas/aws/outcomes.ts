/** Outcome events on the Phoenix bus. */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { Env, OUTCOME_SOURCE, type OutcomeDetails, type OutcomeType } from '../domain/contract';
import { TransientAwsError } from '../domain/errors';
import { aws, requireEnv } from './errors';
import { eventBridge } from './clients';
import { recordOutcome } from './metrics';

/**
 * Put one outcome event on the Phoenix bus, its detail of the shape its detail-type declares
 * (OutcomeDetails); a rejected entry is a transient failure (retried). Once on the bus, the outcome
 * is counted (metrics `Outcomes` and `Replacements`, aws/metrics.ts).
 */
export async function putOutcome<T extends OutcomeType>(
  detailType: T,
  detail: OutcomeDetails[T],
  resources: string[] = [],
): Promise<void> {
  const result = await aws('PutEvents', () =>
    eventBridge().send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: requireEnv(Env.eventBusName),
            Source: OUTCOME_SOURCE,
            DetailType: detailType,
            Detail: JSON.stringify(detail),
            Resources: resources,
          },
        ],
      }),
    ),
  );
  if ((result.FailedEntryCount ?? 0) > 0) {
    const entry = result.Entries?.[0];
    throw new TransientAwsError(
      `PutEvents rejected ${detailType}: ${entry?.ErrorCode ?? ''} ${entry?.ErrorMessage ?? ''}`,
    );
  }
  recordOutcome(detailType, detail);
}
