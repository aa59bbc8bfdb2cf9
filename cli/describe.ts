/**
 * `phoenix describe <execution>`: what one workflow execution did, from Step Functions' own record
 * (DescribeExecution and the paginated GetExecutionHistory): each state entered and exited (Task,
 * Wait, Choice, …) with its times, duration, retries and error; the failing step with its error
 * and cause; the final status and the outcome (the execution's output, or its error).
 *
 * The execution is an ARN, or a name looked up in the state machines the target names (Rollout
 * `--state-machine-arn`, Replace `--replace-state-machine-arn`, Drain `--drain-state-machine-arn`
 * or their environment variables, see cli/target.ts). Nothing here writes anything.
 */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeStateMachineCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { Env } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import { duration, table, time } from './render';

export interface StepView {
  readonly name: string;
  /** The state's type as the history names it: Task, Wait, Choice, Pass, Succeed, Fail, … */
  readonly type: string;
  readonly enteredAt: string;
  /** null: not exited (still running, or it failed and the execution ended there). */
  readonly exitedAt: string | null;
  readonly durationMs: number | null;
  /** `failed`: its last attempt failed (caught, or the end of the execution). */
  readonly status: 'succeeded' | 'failed' | 'running' | 'left';
  /** Retries of the state (attempts beyond the first). */
  readonly retries: number;
  readonly error: string | null;
  readonly cause: string | null;
}

export interface ExecutionReport {
  readonly executionArn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  /** RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED. */
  readonly status: string;
  readonly startedAt: string | null;
  readonly stoppedAt: string | null;
  readonly durationMs: number | null;
  /** In the order they were entered. */
  readonly steps: readonly StepView[];
  /** The last step that failed (caught or not), null when none did. */
  readonly failedStep: {
    readonly name: string;
    readonly error: string | null;
    readonly cause: string | null;
  } | null;
  /** The execution's error and cause, when it did not succeed. */
  readonly error: string | null;
  readonly cause: string | null;
  /** The execution's output (parsed when it is JSON), null while running or when it failed. */
  readonly outcome: unknown;
}

export interface DescribeOptions {
  /** Default `$PHOENIX_ROLLOUT_STATE_MACHINE_ARN`. */
  readonly stateMachineArn?: string;
  /** Default `$PHOENIX_REPLACE_STATE_MACHINE_ARN`. */
  readonly replaceStateMachineArn?: string;
  /** Default `$PHOENIX_DRAIN_STATE_MACHINE_ARN`. */
  readonly drainStateMachineArn?: string;
  /** At most this many history pages of 1000 events (default 100). */
  readonly maxPages?: number;
  readonly sfn?: SFNClient;
}

const EXECUTION_ARN = /^arn:[^:]+:states:[^:]+:\d{12}:execution:[^:]+:[^:]+$/;
const STATE_MACHINE_ARN = /^(arn:[^:]+:states:[^:]+:\d{12}):stateMachine:([^:]+)$/;
/** Step Functions' execution name rule: 1–80 characters, no whitespace, brackets, wildcards, … */
const EXECUTION_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/]{1,80}$/;

const present = (value: string | undefined) =>
  value !== undefined && value.trim() !== '' ? value.trim() : undefined;

/** The state machines a name is looked up in, in order. */
function stateMachines(options: DescribeOptions, env: NodeJS.ProcessEnv): string[] {
  return [
    present(options.stateMachineArn) ?? present(env[Env.rolloutStateMachineArn]),
    present(options.replaceStateMachineArn) ?? present(env[Env.replaceStateMachineArn]),
    present(options.drainStateMachineArn) ?? present(env[Env.drainStateMachineArn]),
  ].filter((arn): arn is string => arn !== undefined);
}

/** The execution's ARN and description: an ARN as given, a name looked up in each state machine. */
async function find(
  sfn: SFNClient,
  execution: string,
  options: DescribeOptions,
  env: NodeJS.ProcessEnv,
): Promise<DescribeExecutionCommandOutput> {
  if (execution.startsWith('arn:')) {
    if (!EXECUTION_ARN.test(execution)) {
      throw new ConfigurationError(`not an execution ARN: ${JSON.stringify(execution)}`);
    }
    return sfn.send(new DescribeExecutionCommand({ executionArn: execution }));
  }
  if (!EXECUTION_NAME.test(execution)) {
    throw new ConfigurationError(`not an execution name nor ARN: ${JSON.stringify(execution)}`);
  }
  const machines = stateMachines(options, env);
  if (machines.length === 0) {
    throw new ConfigurationError(
      `cannot look up execution ${execution} by name without a state machine: pass its ARN, or --state-machine-arn, ` +
        `--replace-state-machine-arn, --drain-state-machine-arn (or set ${Env.rolloutStateMachineArn}, ${Env.replaceStateMachineArn}, ${Env.drainStateMachineArn}; phoenix local prints them)`,
    );
  }
  for (const machine of machines) {
    const parts = STATE_MACHINE_ARN.exec(machine);
    if (parts === null) throw new ConfigurationError(`not a state machine ARN: ${JSON.stringify(machine)}`);
    try {
      return await sfn.send(
        new DescribeExecutionCommand({ executionArn: `${parts[1]}:execution:${parts[2]}:${execution}` }),
      );
    } catch (error) {
      if (!(error instanceof ExecutionDoesNotExist) && (error as Error).name !== 'ExecutionDoesNotExist')
        throw error;
    }
  }
  throw new ConfigurationError(`no execution ${execution} in ${machines.join(', ')}`);
}

async function historyOf(sfn: SFNClient, executionArn: string, maxPages: number): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < maxPages; page += 1) {
    const out = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 1000,
        nextToken,
        includeExecutionData: true,
      }),
    );
    events.push(...(out.events ?? []));
    nextToken = out.nextToken;
    if (nextToken === undefined) break;
  }
  return events;
}

/** The error and cause an event carries (TaskFailed, LambdaFunctionFailed, …TimedOut), if any. */
function failureOf(event: HistoryEvent): { error: string | null; cause: string | null } | undefined {
  const type: string = event.type ?? '';
  if (type.startsWith('Execution') || !/(Failed|TimedOut)$/.test(type)) return undefined;
  for (const [key, value] of Object.entries(event)) {
    if (!key.endsWith('EventDetails') || typeof value !== 'object' || value === null) continue;
    const details = value as { error?: unknown; cause?: unknown };
    return {
      error: typeof details.error === 'string' ? details.error : type,
      cause: typeof details.cause === 'string' ? details.cause : null,
    };
  }
  return { error: type, cause: null };
}

const SUCCESS = /^(LambdaFunctionSucceeded|TaskSucceeded)$/;
/** A new attempt of a task: scheduled anew (AWS), or retried (the local engine's StateRetried). */
const ATTEMPT = /^(LambdaFunctionScheduled|TaskScheduled)$/;

interface Step {
  name: string;
  type: string;
  entered: Date;
  exited?: Date;
  scheduled: number;
  retried: number;
  error: string | null;
  cause: string | null;
  failedAt?: Date;
}

/**
 * The steps of an execution's history, in the order entered (pure). Phoenix's workflows run one
 * state at a time (JSONPath, Lambda tasks, no Parallel or Map): an event belongs to the state
 * entered last. `types`: each state's type by name, from the definition (the history's event types
 * say it too, but the local engine runs a SecondsPath Wait as a Task).
 */
export function stepsOf(
  events: readonly HistoryEvent[],
  executionEnded: boolean,
  types: ReadonlyMap<string, string> = new Map(),
): StepView[] {
  const steps: Step[] = [];
  let current: Step | undefined;
  for (const event of events) {
    // A string: the local engine also writes StateRetried and StateCaught.
    const type: string = event.type ?? '';
    const at = event.timestamp ?? new Date(0);
    const entered = /^(\w*)StateEntered$/.exec(type);
    if (entered !== null) {
      current = {
        name: event.stateEnteredEventDetails?.name ?? '?',
        type: types.get(event.stateEnteredEventDetails?.name ?? '') ?? (entered[1] || 'State'),
        entered: at,
        scheduled: 0,
        retried: 0,
        error: null,
        cause: null,
      };
      steps.push(current);
      continue;
    }
    if (current === undefined) continue;
    if (/StateExited$/.test(type)) {
      current.exited = at;
    } else if (ATTEMPT.test(type)) {
      current.scheduled += 1;
      current.error = null;
      current.cause = null;
    } else if (type === 'StateRetried') {
      current.retried += 1;
      current.error = null;
      current.cause = null;
    } else if (SUCCESS.test(type)) {
      current.error = null;
      current.cause = null;
    } else {
      const failure = failureOf(event);
      if (failure !== undefined) {
        current.error = failure.error;
        current.cause = failure.cause;
        current.failedAt = at;
      }
    }
  }
  return steps.map((s) => {
    const end = s.error !== null ? (s.failedAt ?? s.exited) : s.exited;
    const status: StepView['status'] =
      s.error !== null
        ? 'failed'
        : s.exited !== undefined
          ? 'succeeded'
          : executionEnded
            ? 'left'
            : 'running';
    return {
      name: s.name,
      type: s.type,
      enteredAt: s.entered.toISOString(),
      exitedAt: end !== undefined ? end.toISOString() : null,
      durationMs: end !== undefined ? end.getTime() - s.entered.getTime() : null,
      status,
      retries: Math.max(s.retried, s.scheduled - 1, 0),
      error: s.error,
      cause: s.cause,
    };
  });
}

/** Each top-level state's type by name, from the state machine's definition; empty if unreadable. */
async function stateTypes(sfn: SFNClient, stateMachineArn: string | undefined): Promise<Map<string, string>> {
  const types = new Map<string, string>();
  if (stateMachineArn === undefined) return types;
  try {
    const { definition } = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
    const states = (JSON.parse(definition ?? '{}') as { States?: Record<string, { Type?: unknown }> }).States;
    for (const [name, state] of Object.entries(states ?? {})) {
      if (typeof state.Type === 'string') types.set(name, state.Type);
    }
  } catch {
    // Without states:DescribeStateMachine the history's own event types stand.
  }
  return types;
}

function parseOutput(output: string | undefined): unknown {
  if (output === undefined) return null;
  try {
    return JSON.parse(output) as unknown;
  } catch {
    return output;
  }
}

export async function describeExecution(
  execution: string,
  options: DescribeOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ExecutionReport> {
  const sfn = options.sfn ?? new SFNClient({ maxAttempts: 2 });
  try {
    const described = await find(sfn, execution, options, env);
    const executionArn = described.executionArn!;
    const events = await historyOf(sfn, executionArn, options.maxPages ?? 100);
    const status = described.status ?? 'UNKNOWN';
    const steps = stepsOf(events, status !== 'RUNNING', await stateTypes(sfn, described.stateMachineArn));
    // The failing step is the state that failed, not the Fail state its error was routed to.
    const failures = [...steps].reverse().filter((s) => s.status === 'failed');
    const failed = failures.find((s) => s.type !== 'Fail') ?? failures[0];
    const started = described.startDate ?? null;
    const stopped = described.stopDate ?? null;
    return {
      executionArn,
      name: described.name ?? execution,
      stateMachineArn: described.stateMachineArn ?? '',
      status,
      startedAt: started?.toISOString() ?? null,
      stoppedAt: stopped?.toISOString() ?? null,
      durationMs: started !== null && stopped !== null ? stopped.getTime() - started.getTime() : null,
      steps,
      failedStep:
        failed !== undefined ? { name: failed.name, error: failed.error, cause: failed.cause } : null,
      error: described.error ?? null,
      cause: described.cause ?? null,
      outcome: status === 'SUCCEEDED' ? parseOutput(described.output) : null,
    };
  } finally {
    if (options.sfn === undefined) sfn.destroy();
  }
}

/** A cause on one line, at most `max` characters. */
const short = (text: string | null, max = 160) => {
  if (text === null) return '-';
  const line = text.replace(/\s+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

export function renderDescribe(report: ExecutionReport): string {
  const head = [
    `Execution ${report.name}: ${report.status}`,
    `  ${report.executionArn}`,
    `  started ${report.startedAt !== null ? time(report.startedAt) : '?'}` +
      (report.stoppedAt !== null ? `, stopped ${time(report.stoppedAt)}` : '') +
      (report.durationMs !== null ? ` (${duration(report.durationMs)})` : ''),
  ];
  const rows = report.steps.map((s) => [
    time(s.enteredAt),
    s.durationMs !== null ? duration(s.durationMs) : '…',
    s.type,
    s.name,
    s.status + (s.retries > 0 ? ` (${s.retries} ${s.retries === 1 ? 'retry' : 'retries'})` : ''),
    s.error !== null ? `${s.error}: ${short(s.cause)}` : '',
  ]);
  const out = [...head, '', table(['ENTERED', 'DURATION', 'TYPE', 'STEP', 'STATUS', 'ERROR'], rows)];
  if (report.failedStep !== null) {
    out.push(
      '',
      `Failing step: ${report.failedStep.name}: ${report.failedStep.error ?? '?'}: ${short(report.failedStep.cause, 400)}`,
    );
  }
  if (report.error !== null) out.push(`Execution error: ${report.error}: ${short(report.cause, 400)}`);
  if (report.outcome !== null) out.push(`Outcome: ${short(JSON.stringify(report.outcome), 400)}`);
  return out.join('\n');
}
