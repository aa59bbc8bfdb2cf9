/**
 * An execution's history, as GetExecutionHistory reports it: the execution-level events are
 * written by the service (started, and one end event); the state-level events are read from the
 * engine's event log. The end event stays last, even when a state event arrives after it.
 */
import { describeError, type LocalLogger } from '../log';
import type { ExecutionRecord, ExecutionStatus } from './api';

export type EndStatus = Exclude<ExecutionStatus, 'RUNNING'>;
export interface EndResult {
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

export function addEvent(record: ExecutionRecord, type: string, details: Record<string, unknown>): void {
  const id = record.events.length + 1;
  record.events.push({ id, previousEventId: id - 1, timestamp: new Date(), type, ...details });
}

/** The execution's end event (ExecutionSucceeded, ExecutionFailed, ExecutionAborted, ExecutionTimedOut). */
export function addEndEvent(record: ExecutionRecord, status: EndStatus, result: EndResult): void {
  const errorDetails = errorDetailsOf(result);
  switch (status) {
    case 'SUCCEEDED':
      addEvent(record, 'ExecutionSucceeded', {
        executionSucceededEventDetails: { output: result.output, outputDetails: { truncated: false } },
      });
      break;
    case 'FAILED':
      addEvent(record, 'ExecutionFailed', { executionFailedEventDetails: errorDetails });
      break;
    case 'ABORTED':
      addEvent(record, 'ExecutionAborted', { executionAbortedEventDetails: errorDetails });
      break;
    case 'TIMED_OUT':
      addEvent(record, 'ExecutionTimedOut', { executionTimedOutEventDetails: errorDetails });
      break;
  }
}

export function errorDetailsOf(result: EndResult): { error?: string; cause?: string } {
  return {
    ...(result.error !== undefined ? { error: result.error } : {}),
    ...(result.cause !== undefined ? { cause: result.cause } : {}),
  };
}

/** State-level history from the library's event log (execution-level events are ours). */
export async function collectEvents(
  record: ExecutionRecord,
  logs: AsyncGenerator<unknown>,
  log: LocalLogger,
): Promise<void> {
  try {
    for await (const item of logs) {
      const event = stateEvent(item as Record<string, unknown>);
      if (event !== undefined) addStateEvent(record, event.type, event.details);
    }
  } catch (error) {
    log.warn('could not read an execution event log', {
      executionArn: record.executionArn,
      error: describeError(error),
    });
  }
}

/** The history event of one engine log entry; undefined for what the history leaves out. */
function stateEvent(
  event: Record<string, unknown>,
): { type: string; details: Record<string, unknown> } | undefined {
  const state = event.state as
    { name?: string; type?: string; input?: unknown; output?: unknown } | undefined;
  const nested = event.index !== undefined ? { mapIterationIndex: event.index } : {};
  switch (event.type) {
    case 'StateEntered':
      return {
        type: `${state?.type ?? ''}StateEntered`,
        details: {
          stateEnteredEventDetails: { name: state?.name, input: JSON.stringify(state?.input ?? null) },
          ...nested,
        },
      };
    case 'StateExited':
      return {
        type: `${state?.type ?? ''}StateExited`,
        details: {
          stateExitedEventDetails: { name: state?.name, output: JSON.stringify(state?.output ?? null) },
          ...nested,
        },
      };
    case 'StateFailed':
      // A Task that ran past its TimeoutSeconds (or HeartbeatSeconds) timed out, as AWS records it.
      if (state?.type === 'Task' && event.Error === 'States.Timeout') {
        return {
          type: 'TaskTimedOut',
          details: {
            taskTimedOutEventDetails: {
              name: state.name,
              error: event.Error,
              cause: typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause ?? null),
            },
            ...nested,
          },
        };
      }
      return {
        type: state?.type === 'Task' ? 'TaskFailed' : `${state?.type ?? ''}StateFailed`,
        details: {
          taskFailedEventDetails: {
            name: state?.name,
            error: event.Error,
            cause: typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause ?? null),
          },
          ...nested,
        },
      };
    case 'StateRetried':
    case 'StateCaught':
      return { type: event.type, details: { name: state?.name, ...nested } };
    default:
      return undefined; // Execution* events are written by the service; Map/Parallel bookkeeping is left out.
  }
}

/** A state event that may arrive after the execution was stopped: keep the end event last. */
function addStateEvent(record: ExecutionRecord, type: string, details: Record<string, unknown>): void {
  const last = record.events[record.events.length - 1];
  if (
    record.status === 'RUNNING' ||
    last === undefined ||
    !/^Execution[A-Z]/.test(last.type) ||
    last.id === 1
  ) {
    addEvent(record, type, details);
    return;
  }
  record.events.splice(record.events.length - 1, 0, {
    id: 0,
    previousEventId: 0,
    timestamp: new Date(),
    type,
    ...details,
  });
  record.events.forEach((event, index) => {
    (event as { id: number }).id = index + 1;
    (event as { previousEventId: number }).previousEventId = index;
  });
}
