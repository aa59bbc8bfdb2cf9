/**
 * Listen to Phoenix's outcome events the way an operator would: a rule on the Phoenix bus with an
 * SQS queue target, in the emulator, polled. Used by the demo and the tests.
 */
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { OUTCOME_SOURCE } from '../lambdas/domain/contract';
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
