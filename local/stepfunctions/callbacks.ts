/**
 * Task tokens of the callback pattern (`.waitForTaskToken`): a Task state that waits opens a
 * token (`$$.Task.Token`), and the task ends when SendTaskSuccess or SendTaskFailure names it, or
 * when its HeartbeatSeconds pass without a SendTaskHeartbeat, or its TimeoutSeconds (the engine's
 * own task timeout, `States.Timeout`), or its execution stops.
 *
 * The API answers as Step Functions does: a token that is not one (not a token this service could
 * have issued) is `InvalidToken`; one that this service never issued, `TaskDoesNotExist`; one
 * whose task has ended (succeeded, failed, timed out, its execution stopped), `TaskTimedOut`.
 */
import { randomUUID } from 'node:crypto';
import { StepFunctionsApiError } from './api';

/** An open task token. */
export interface CallbackTask {
  readonly token: string;
  /** Settles with the SendTaskSuccess output, or rejects (SendTaskFailure, heartbeat, stopped). */
  readonly result: Promise<unknown>;
  /** The task ended otherwise (its Lambda invocation failed, the engine timed it out). */
  close(): void;
}

export interface CallbackOpenRequest {
  readonly executionArn: string;
  readonly stateName: string;
  /** Scaled HeartbeatSeconds, in ms: without a heartbeat for this long, the task fails `States.Timeout`. */
  readonly heartbeatMs?: number;
  /** Scaled TimeoutSeconds, in ms: the token is closed then (the engine fails the task with `States.Timeout`). */
  readonly timeoutMs?: number;
  /** The execution was stopped. */
  readonly signal: AbortSignal;
}

export interface CallbackRegistry {
  open(request: CallbackOpenRequest): CallbackTask;
  sendTaskSuccess(taskToken: string, output: string): void;
  sendTaskFailure(taskToken: string, failure: { error?: string; cause?: string }): void;
  sendTaskHeartbeat(taskToken: string): void;
  /** Tokens still open. */
  readonly openCount: number;
}

interface OpenTask {
  readonly executionArn: string;
  readonly stateName: string;
  resolve(output: unknown): void;
  reject(error: Error): void;
  heartbeat(): void;
  end(): void;
}

const TOKEN_PREFIX = 'phoenix-local-task-token:';

/** The error of a task that failed: named as SendTaskFailure named it, its message the cause. */
function taskError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

export function createCallbackRegistry(): CallbackRegistry {
  const open = new Map<string, OpenTask>();
  /** Tokens whose task has ended (TaskTimedOut from now on). */
  const closed = new Set<string>();

  const taskOf = (taskToken: string): OpenTask => {
    const task = open.get(taskToken);
    if (task !== undefined) return task;
    if (closed.has(taskToken)) {
      throw new StepFunctionsApiError('TaskTimedOut', 'Task Timed Out: Provided task does not exist anymore');
    }
    if (!isWellFormed(taskToken)) {
      throw new StepFunctionsApiError('InvalidToken', `Invalid Token: '${taskToken.slice(0, 64)}'`);
    }
    throw new StepFunctionsApiError('TaskDoesNotExist', 'Task Does Not Exist: Provided task does not exist');
  };

  return {
    open(request) {
      const token = `${TOKEN_PREFIX}${Buffer.from(
        JSON.stringify({ e: request.executionArn, s: request.stateName, n: randomUUID() }),
      ).toString('base64url')}`;
      let settle!: { resolve: (v: unknown) => void; reject: (e: Error) => void };
      const result = new Promise<unknown>((resolve, reject) => {
        settle = { resolve, reject };
      });
      // Settled before anyone awaits it (a Lambda that answers its own token at once): no warning.
      result.catch(() => undefined);
      let heartbeatTimer: NodeJS.Timeout | undefined;
      let timeoutTimer: NodeJS.Timeout | undefined;
      const end = () => {
        if (!open.delete(token)) return;
        closed.add(token);
        clearTimeout(heartbeatTimer);
        clearTimeout(timeoutTimer);
        request.signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        end();
        settle.reject(taskError('States.Runtime', 'The execution was stopped'));
      };
      const task: OpenTask = {
        executionArn: request.executionArn,
        stateName: request.stateName,
        resolve: (output) => {
          end();
          settle.resolve(output);
        },
        reject: (error) => {
          end();
          settle.reject(error);
        },
        heartbeat: () => {
          if (request.heartbeatMs === undefined) return;
          clearTimeout(heartbeatTimer);
          heartbeatTimer = setTimeout(() => {
            task.reject(
              taskError(
                'States.Timeout',
                `Task ${request.stateName} sent no heartbeat for its HeartbeatSeconds (States.HeartbeatTimeout)`,
              ),
            );
          }, request.heartbeatMs);
          heartbeatTimer.unref();
        },
        end,
      };
      open.set(token, task);
      task.heartbeat();
      // The engine's own timer (set right after this one, with the same delay) fails the task
      // with States.Timeout; this one closes the token first, so that no answer counts after it.
      if (request.timeoutMs !== undefined) {
        timeoutTimer = setTimeout(end, request.timeoutMs);
        timeoutTimer.unref();
      }
      if (request.signal.aborted) onAbort();
      else request.signal.addEventListener('abort', onAbort, { once: true });
      return { token, result, close: end };
    },
    sendTaskSuccess(taskToken, output) {
      const task = taskOf(taskToken);
      let parsed: unknown;
      try {
        parsed = JSON.parse(output);
      } catch {
        throw new StepFunctionsApiError('InvalidOutput', 'Invalid Output: the output is not JSON');
      }
      task.resolve(parsed);
    },
    sendTaskFailure(taskToken, failure) {
      taskOf(taskToken).reject(taskError(failure.error ?? '', failure.cause ?? ''));
    },
    sendTaskHeartbeat(taskToken) {
      taskOf(taskToken).heartbeat();
    },
    get openCount() {
      return open.size;
    },
  };
}

/** A token this service could have issued: its prefix and a JSON body with an execution and a state. */
function isWellFormed(taskToken: string): boolean {
  if (!taskToken.startsWith(TOKEN_PREFIX)) return false;
  try {
    const body = JSON.parse(
      Buffer.from(taskToken.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8'),
    ) as {
      e?: unknown;
      s?: unknown;
    };
    return typeof body.e === 'string' && typeof body.s === 'string';
  } catch {
    return false;
  }
}
