/** The router's shared context: SQS client, stop signal, sleep, queue sends, delivery listeners. */
import { setMaxListeners } from 'node:events';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createLogger, describeError } from '../log';
import { emulatorClientConfig } from '../provision';
import { RouterStoppedError, type Delivery, type RouterContext, type RouterOptions } from './types';

export function createRouterContext(options: RouterOptions, stopSignal: AbortSignal): RouterContext {
  const sqs = new SQSClient(emulatorClientConfig(options));
  // Every queue's poller waits on it (one listener per pending receive): not a leak.
  setMaxListeners(Math.max(10, options.ruleQueues.length * 2 + 10), stopSignal);
  const queueByArn = new Map(options.model.queues.map((q) => [q.arn, q]));
  return {
    options,
    log: options.log ?? createLogger(),
    timeScale: options.timeScale ?? 0.02,
    concurrency: options.concurrencyPerQueue ?? 10,
    sqs,
    stopSignal,
    listeners: new Set(),
    inFlight: new Set(),
    sleep: (ms) => sleep(stopSignal, ms),
    sendToQueue: async (queueArn, body, attributes) => {
      const url = queueByArn.get(queueArn)?.url ?? queueUrlFromArn(queueArn, options.endpoint);
      await sqs.send(
        new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageAttributes: attributes }),
      );
    },
  };
}

/** Tell every listener; a listener that throws is logged, not rethrown. */
export function emit(ctx: RouterContext, delivery: Delivery): void {
  for (const listener of [...ctx.listeners]) {
    try {
      listener(delivery);
    } catch (error) {
      ctx.log.error('a delivery listener threw', { error: describeError(error) });
    }
  }
}

function sleep(stopSignal: AbortSignal, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (stopSignal.aborted) return reject(new RouterStoppedError('stopped'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new RouterStoppedError('stopped'));
    };
    const timer = setTimeout(() => {
      stopSignal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    stopSignal.addEventListener('abort', onAbort, { once: true });
  });
}

function queueUrlFromArn(arn: string, endpoint: string): string {
  const parts = arn.split(':');
  return `${endpoint.replace(/\/+$/, '')}/${parts[4] ?? ''}/${parts[5] ?? ''}`;
}
