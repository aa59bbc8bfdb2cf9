/** The router's public vocabulary (options, deliveries) and the context its parts share. */
import type { MessageAttributeValue, SQSClient } from '@aws-sdk/client-sqs';
import type { EventDecision, LostEvent } from '../faults/injector';
import type { LocalLogger } from '../log';
import type { AwsClientOptions, RuleQueue } from '../provision';
import type { LocalFunction, LocalModel, LocalRuleTarget } from '../template';

export interface RouterInvoker {
  resolveFunction(nameOrArn: string): LocalFunction | undefined;
  invoke(
    nameOrArn: string,
    payload: unknown,
    options?: { onStart?: (requestId: string) => void },
  ): Promise<unknown>;
}

export interface RouterStepFunctions {
  startExecution(request: { stateMachineArn: string; name?: string; input?: string }): {
    executionArn: string;
  };
}

export interface RouterOptions extends AwsClientOptions {
  readonly model: LocalModel;
  readonly ruleQueues: readonly RuleQueue[];
  readonly invoker: RouterInvoker;
  readonly stepFunctions?: RouterStepFunctions;
  /** Scales retry waits, event ages and schedule rates. Default 0.02; 1 = real time. */
  readonly timeScale?: number;
  /** Fire `rate(...)` schedules. Default true. */
  readonly fireSchedules?: boolean;
  /** Deliveries running at once per queue. Default 10. */
  readonly concurrencyPerQueue?: number;
  readonly log?: LocalLogger;
  /** Injected delivery faults (local/faults): duplicates, delays, losses. None by default. */
  readonly faults?: EventFaults;
}

/** Decides, per event and rule target, whether it is lost, duplicated or delayed (local/faults/injector.ts). */
export interface EventFaults {
  eventFault(rule: string): EventDecision;
  recordLost(event: Omit<LostEvent, 'at'>): void;
}

export type DeliveryOutcome = 'succeeded' | 'dead-lettered' | 'dropped';

/** What happened to one event for one rule target. */
export interface Delivery {
  readonly ruleLogicalId: string;
  readonly ruleName: string;
  readonly targetId: string;
  readonly targetArn: string;
  readonly targetKind: LocalRuleTarget['kind'];
  /** What the target received (after Input/InputPath/InputTransformer). */
  readonly payload: unknown;
  readonly outcome: DeliveryOutcome;
  /** Handler invocations (1 + retries) or StartExecution calls. */
  readonly attempts: number;
  readonly result?: unknown;
  readonly error?: { errorType: string; errorMessage: string };
  /** ARNs of the queues the event was sent to on failure. */
  readonly deadLetteredTo?: readonly string[];
  readonly executionArn?: string;
}

export interface Router {
  /** Called after each delivery settles. Returns an unsubscribe function. */
  onDelivery(listener: (delivery: Delivery) => void): () => void;
  /** The next delivery that matches `predicate` (default: any). Rejects after `timeoutMs` (default 30 s). */
  waitForDelivery(predicate?: (delivery: Delivery) => boolean, timeoutMs?: number): Promise<Delivery>;
  /** Deliveries in progress. */
  readonly inFlight: number;
  /** Stop polling, cancel retry waits, and wait for running handler invocations. */
  stop(): Promise<void>;
}

/** waitForDelivery gave up. */
export class DeliveryWaitTimeoutError extends Error {
  override readonly name = 'DeliveryWaitTimeoutError';
}
/** The router was stopped while it waited to retry; the message stays in its queue. */
export class RouterStoppedError extends Error {
  override readonly name = 'RouterStoppedError';
}

/** The part of a Delivery that names the route. */
export type RouteInfo = Pick<
  Delivery,
  'ruleLogicalId' | 'ruleName' | 'targetId' | 'targetArn' | 'targetKind'
>;
/** The part of a Delivery that a delivery to the target decides. */
export type DeliveryResult = Omit<Delivery, keyof RouteInfo>;
export interface FailureDetails {
  readonly errorType: string;
  readonly errorMessage: string;
}

/** What every part of the router shares: its options, its SQS client, its stop signal, its listeners. */
export interface RouterContext {
  readonly options: RouterOptions;
  readonly log: LocalLogger;
  readonly timeScale: number;
  readonly concurrency: number;
  readonly sqs: SQSClient;
  readonly stopSignal: AbortSignal;
  readonly listeners: Set<(delivery: Delivery) => void>;
  /** Deliveries in progress, over every queue. */
  readonly inFlight: Set<Promise<void>>;
  /** Wait `ms`; rejects with RouterStoppedError when the router stops. */
  sleep(ms: number): Promise<void>;
  /** Send a message to a queue of the template (or any queue, by ARN). */
  sendToQueue(
    queueArn: string,
    body: string,
    attributes: Record<string, MessageAttributeValue>,
  ): Promise<void>;
}
