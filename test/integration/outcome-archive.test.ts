/**
 * The outcome archive in the local runtime: outcome events put on the Phoenix bus end in the
 * archive log group (the emulator's EventBridge writes the rule's log-group target), and
 * `phoenix events` (its functions, through the real CloudWatch Logs API of the emulator) reads them
 * back in order, by fleet, and with `--follow` yields a later one exactly once.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import { followOutcomes, type OutcomeLogReader, type OutcomeRecord, runEvents } from '../../cli/events';
import { logsApi } from '../../cli/logs-api';
import { DetailTypes, OUTCOME_SOURCE } from '../../lambdas/domain/contract';
import { outcomeLogGroupName } from '../../lib/capabilities/outcome-archive';
import { emulatorClientConfig } from '../../local/provision';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const local = useLocalRuntime({ outcomes: false });

async function putOutcome(detailType: string, detail: Record<string, unknown>): Promise<void> {
  const events = new EventBridgeClient(emulatorClientConfig({ endpoint: local.endpoint, region: REGION }));
  try {
    const result = await events.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: OUTCOME_SOURCE,
            DetailType: detailType,
            EventBusName: local.busName,
            Detail: JSON.stringify(detail),
          },
        ],
      }),
    );
    expect(result.FailedEntryCount ?? 0).toBe(0);
  } finally {
    events.destroy();
  }
}

/** The real API of the emulator, counting the FilterLogEvents calls (the follow's polls). */
function countingReader(): OutcomeLogReader & { calls: number } {
  const api = logsApi(emulatorClientConfig({ endpoint: local.endpoint, region: REGION }));
  const reader = {
    calls: 0,
    filterLogEvents: (input: Parameters<OutcomeLogReader['filterLogEvents']>[0]) => {
      reader.calls += 1;
      return api.filterLogEvents(input);
    },
  };
  return reader;
}

describe('the outcome archive', () => {
  it('archives outcomes put on the bus; phoenix events --fleet reads them back in order', async () => {
    const logGroup = outcomeLogGroupName(local.busName);
    await putOutcome(DetailTypes.RolloutStarted, { fleet: 'web', imageId: 'ami-0b', execution: 'x1' });
    await putOutcome(DetailTypes.RolloutStarted, { fleet: 'api', imageId: 'ami-0c', execution: 'x2' });
    await putOutcome(DetailTypes.RolloutRejected, {
      fleet: 'web',
      imageId: 'ami-0b',
      reason: 'image is older than the desired image',
    });

    const lines: string[] = [];
    await runEvents(countingReader(), { fleet: 'web', json: true, logGroup }, (l) => lines.push(l));
    const records = lines.map((l) => JSON.parse(l) as OutcomeRecord);
    expect(records.map((r) => [r.fleet, r.type])).toEqual([
      ['web', 'RolloutStarted'],
      ['web', 'RolloutRejected'],
    ]);
    expect(records[1]!.detail['reason']).toBe('image is older than the desired image');

    const text: string[] = [];
    await runEvents(countingReader(), { logGroup }, (l) => text.push(l));
    expect(text.filter((l) => / (web|api) +Rollout/.test(l))).toHaveLength(3);
    expect(text.join('\n')).toContain(
      'RolloutRejected         ami-0b  — image is older than the desired image',
    );
  });

  it('--follow yields what is archived, then a later outcome exactly once', async () => {
    const logGroup = outcomeLogGroupName(local.busName);
    const reader = countingReader();
    const stop = new AbortController();
    const seen: OutcomeRecord[] = [];
    let later: (() => void) | undefined;
    const laterSeen = new Promise<void>((resolve) => (later = resolve));
    const following = (async () => {
      for await (const record of followOutcomes(reader, {
        logGroupName: logGroup,
        fleet: 'follow',
        pollMs: 20,
        signal: stop.signal,
      })) {
        seen.push(record);
        if (record.type === DetailTypes.RolloutSucceeded) later!();
      }
    })();

    await putOutcome(DetailTypes.RolloutStarted, { fleet: 'follow', imageId: 'ami-0f', execution: 'f1' });
    await putOutcome(DetailTypes.RolloutSucceeded, { fleet: 'follow', imageId: 'ami-0f', execution: 'f1' });
    await laterSeen;
    // More polls after the last one was printed: none of them prints it again.
    const after = reader.calls;
    while (reader.calls < after + 5) await new Promise((resolve) => setTimeout(resolve, 10));
    stop.abort();
    await following;

    expect(seen.map((r) => r.type)).toEqual(['RolloutStarted', 'RolloutSucceeded']);
  });
});
