/**
 * Listen to Phoenix's outcome events the way an operator would: a rule on the Phoenix bus with an
 * SQS queue target, in the emulator, polled (used by the demo and the tests); and `printOutcomes`,
 * which follows the outcome archive for `phoenix local`.
 */
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { followOutcomes, formatOutcome, isQuietOutcome, type OutcomeRecord } from '../cli/events';
import { logsApi } from '../cli/logs-api';
import { OUTCOME_SOURCE } from '../lambdas/domain/contract';
import { describeError } from './log';
import { emulatorClientConfig } from './provision';

export interface OutcomeEvent {
  readonly id: string;
  readonly detailType: string;
  readonly detail: Record<string, unknown>;
}

export interface OutcomeListener {
  /** Every outcome received so far, in order. */
  readonly received: readonly OutcomeEvent[];
  /** The first outcome (received or to come) that matches; rejects after `timeoutMs`. */
  waitFor(predicate: (event: OutcomeEvent) => boolean, timeoutMs?: number): Promise<OutcomeEvent>;
  stop(): Promise<void>;
}

export async function listenToOutcomes(options: {
  endpoint: string;
  region: string;
  eventBusName: string;
  name?: string;
  onOutcome?: (event: OutcomeEvent) => void;
}): Promise<OutcomeListener> {
  const config = emulatorClientConfig(options);
  const sqs = new SQSClient(config);
  const events = new EventBridgeClient(config);
  const name = options.name ?? 'phoenix-outcome-listener';
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
  const queueArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes!['QueueArn']!;
  await events.send(
    new PutRuleCommand({
      Name: name,
      EventBusName: options.eventBusName,
      EventPattern: JSON.stringify({ source: [OUTCOME_SOURCE] }),
    }),
  );
  await events.send(
    new PutTargetsCommand({
      Rule: name,
      EventBusName: options.eventBusName,
      Targets: [{ Id: 'listener', Arn: queueArn }],
    }),
  );

  const received: OutcomeEvent[] = [];
  const waiters = new Set<{ predicate: (e: OutcomeEvent) => boolean; resolve: (e: OutcomeEvent) => void }>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      let messages;
      try {
        messages = (
          await sqs.send(
            new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
          )
        ).Messages;
      } catch (error) {
        if (stopped) return;
        throw error;
      }
      for (const message of messages ?? []) {
        const body = JSON.parse(message.Body ?? '{}') as {
          id?: string;
          'detail-type'?: string;
          detail?: Record<string, unknown>;
        };
        const event = { id: body.id ?? '', detailType: body['detail-type'] ?? '', detail: body.detail ?? {} };
        received.push(event);
        options.onOutcome?.(event);
        for (const waiter of [...waiters]) {
          if (waiter.predicate(event)) {
            waiters.delete(waiter);
            waiter.resolve(event);
          }
        }
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }),
        );
      }
    }
  })();

  return {
    received,
    waitFor(predicate, timeoutMs = 30_000) {
      const already = received.find(predicate);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const waiter = { predicate, resolve: (e: OutcomeEvent) => (clearTimeout(timer), resolve(e)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `no matching outcome event within ${timeoutMs} ms; received: ${received.map((e) => e.detailType).join(', ') || 'none'}`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/**
 * `phoenix local` prints each outcome as it happens: it follows the outcome archive log group
 * exactly as `phoenix events --follow` does (FilterLogEvents against the emulator), one line per
 * outcome through the same formatter (quiet sweeps left out). A failed poll is one line, never a stack trace; the next
 * poll carries on. `stop()` ends it.
 */
export function printOutcomes(options: {
  endpoint: string;
  region: string;
  logGroupName: string;
  out: (line: string) => void;
  colour?: boolean;
  pollMs?: number;
  /** Only outcomes archived from this time on (epoch ms; default: now). */
  since?: number;
  /** Outcomes not printed (default `isQuietOutcome`: sweeps that found nothing to do). */
  quiet?: (record: OutcomeRecord) => boolean;
}): { stop(): Promise<void> } {
  const quiet = options.quiet ?? isQuietOutcome;
  const reader = logsApi(emulatorClientConfig(options));
  const stop = new AbortController();
  const since = options.since ?? Date.now();
  const loop = (async () => {
    let failures = 0;
    while (!stop.signal.aborted) {
      try {
        for await (const record of followOutcomes(reader, {
          logGroupName: options.logGroupName,
          since,
          pollMs: options.pollMs ?? 250,
          signal: stop.signal,
        })) {
          if (!quiet(record))
            options.out(`outcome: ${formatOutcome(record, { colour: options.colour ?? false })}`);
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        if (failures++ === 0)
          options.out(`outcome: (reading ${options.logGroupName} failed: ${describeError(error)})`);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  })();
  return {
    async stop() {
      stop.abort();
      await loop;
    },
  };
}
