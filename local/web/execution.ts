/**
 * A Rollout execution as the web view and `phoenix report` show it: its states in order with the
 * times they were entered and left (Step Functions GetExecutionHistory through the SDK, every page),
 * and where a running rollout stands (batch N of M, the gate it waits at and until when), read
 * from the input of the state it entered last. The reading is in `readExecutionTimeline`; the rest
 * is pure.
 */
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';

export interface StateVisit {
  readonly name: string;
  /** ISO-8601. */
  readonly enteredAt: string;
  /** ISO-8601; absent while the state runs. */
  readonly exitedAt?: string;
  /** The state's input (parsed JSON), when the history carried it. */
  readonly input?: unknown;
  /** The error the state failed with. */
  readonly error?: string;
}

export interface ExecutionTimeline {
  readonly executionArn: string;
  readonly name: string;
  /** RUNNING, SUCCEEDED, FAILED, ABORTED, TIMED_OUT. */
  readonly status: string;
  /** ISO-8601. */
  readonly startedAt: string;
  readonly endedAt?: string;
  /** The execution's input (parsed JSON). */
  readonly input: unknown;
  /**
   * The handled outcome it ended with (`RolloutRolledBack`, `RolloutRejected` …: the `outcome` of a
   * SUCCEEDED execution's output, lib/workflow/state.ts `HandledEndOutput`).
   */
  readonly outcome?: string;
  /** The error it failed with (`RolloutFailed` …). */
  readonly error?: string;
  readonly cause?: string;
  /** In the order they were entered. */
  readonly visits: readonly StateVisit[];
}

const iso = (d: Date | undefined): string | undefined => (d !== undefined ? d.toISOString() : undefined);

function parse(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function outcomeOf(output: unknown): { outcome?: string } {
  const outcome = (output as { outcome?: unknown } | undefined)?.outcome;
  return typeof outcome === 'string' ? { outcome } : {};
}

/** The execution and its whole history (forward, every page). Throws what the SDK throws. */
export async function readExecutionTimeline(
  sfn: SFNClient,
  executionArn: string,
  options: { maxPages?: number } = {},
): Promise<ExecutionTimeline> {
  const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < (options.maxPages ?? 100); page += 1) {
    const history = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }),
    );
    events.push(...(history.events ?? []));
    nextToken = history.nextToken;
    if (nextToken === undefined) break;
  }
  return {
    executionArn,
    name: described.name ?? executionArn.split(':').pop() ?? executionArn,
    status: described.status ?? 'UNKNOWN',
    startedAt: iso(described.startDate) ?? new Date(0).toISOString(),
    ...(described.stopDate !== undefined ? { endedAt: described.stopDate.toISOString() } : {}),
    input: parse(described.input),
    ...outcomeOf(parse(described.output)),
    ...(described.error !== undefined ? { error: described.error } : {}),
    ...(described.cause !== undefined ? { cause: described.cause } : {}),
    visits: visitsOf(events),
  };
}

/** The states entered, each with when it was left (pure). */
export function visitsOf(events: readonly HistoryEvent[]): StateVisit[] {
  const visits: { name: string; enteredAt: string; exitedAt?: string; input?: unknown; error?: string }[] =
    [];
  const open = new Map<string, number>();
  for (const event of events) {
    const at = iso(event.timestamp) ?? new Date(0).toISOString();
    const entered = event.stateEnteredEventDetails;
    const exited = event.stateExitedEventDetails;
    if (event.type?.endsWith('StateEntered') && entered?.name !== undefined) {
      const input = parse(entered.input);
      visits.push({ name: entered.name, enteredAt: at, ...(input !== undefined ? { input } : {}) });
      open.set(entered.name, visits.length - 1);
    } else if (event.type?.endsWith('StateExited') && exited?.name !== undefined) {
      const index = open.get(exited.name);
      if (index !== undefined) {
        visits[index]!.exitedAt = at;
        open.delete(exited.name);
      }
    } else if (event.type === 'TaskFailed' || event.type === 'TaskTimedOut') {
      const failed = (event.taskFailedEventDetails ?? event.taskTimedOutEventDetails) as
        { name?: string; error?: string } | undefined;
      const index = failed?.name !== undefined ? open.get(failed.name) : undefined;
      if (index !== undefined && failed?.error !== undefined) visits[index]!.error = failed.error;
    }
  }
  return visits;
}

// ---- where a rollout stands ---------------------------------------------------------------------

/** The state names the timeline marks (the Rollout workflow's, lib/rollout-workflow.ts). */
export const MarkedStates = {
  batch: 'LaunchBatch',
  warmUp: 'WarmUpBatch',
  bake: 'Bake',
  rollback: 'StartRollback',
} as const;

export type MarkKind = 'batch' | 'gate' | 'rollback' | 'step';

/** What a state means on a timeline: a batch starts, a gate (warm-up, bake, alarm check), a rollback. */
export function markOf(name: string): MarkKind {
  if (name === MarkedStates.batch) return 'batch';
  if (name === MarkedStates.warmUp || name === MarkedStates.bake || name.startsWith('CheckAlarms'))
    return 'gate';
  if (/Rollback/.test(name)) return 'rollback';
  return 'step';
}

export interface RolloutProgress {
  /** The state entered last. */
  readonly step: string | null;
  /** 1-based batch and the number of batches, when the fleet's plan is known. */
  readonly batch?: { readonly n: number; readonly of: number };
  /** The gate the rollout waits at. */
  readonly gate?: {
    readonly kind: 'warm-up' | 'bake' | 'alarms' | 'health';
    /** ISO-8601: when a timed gate (warm-up, bake) ends. */
    readonly endsAt?: string;
  };
  readonly rollingBack: boolean;
}

interface PlanView {
  fleetState?: {
    desiredCapacity?: unknown;
    batchSize?: unknown;
    warmupSeconds?: unknown;
    bakeSeconds?: unknown;
  };
  progress?: { replaced?: unknown };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Where a rollout stands, from its timeline: the last state entered, batch N/M from the plan and
 * progress in that state's input, and the gate with its end (`timeScale`: the local runtime's
 * scale of waits; 1 in AWS).
 */
export function rolloutProgress(timeline: ExecutionTimeline, timeScale = 1): RolloutProgress {
  const last = timeline.visits[timeline.visits.length - 1];
  if (last === undefined) return { step: null, rollingBack: false };
  const input = (last.input ?? {}) as PlanView;
  const capacity = num(input.fleetState?.desiredCapacity);
  const size = num(input.fleetState?.batchSize);
  const replaced = num(input.progress?.replaced) ?? 0;
  const rollingBack = timeline.visits.some((v) => markOf(v.name) === 'rollback');
  const batch =
    capacity !== undefined && size !== undefined && size > 0 && capacity > 0
      ? (() => {
          const of = Math.ceil(capacity / size);
          return { n: Math.min(of, Math.floor(replaced / size) + 1), of };
        })()
      : undefined;
  const timed = (seconds: unknown) => {
    const s = num(seconds);
    return s === undefined
      ? {}
      : { endsAt: new Date(Date.parse(last.enteredAt) + s * 1000 * timeScale).toISOString() };
  };
  const gate: RolloutProgress['gate'] =
    last.name === MarkedStates.warmUp
      ? { kind: 'warm-up', ...timed(input.fleetState?.warmupSeconds) }
      : last.name === MarkedStates.bake
        ? { kind: 'bake', ...timed(input.fleetState?.bakeSeconds) }
        : last.name.startsWith('CheckAlarms')
          ? { kind: 'alarms' }
          : /BatchHealth|WaitForHealthyBatch/.test(last.name)
            ? { kind: 'health' }
            : undefined;
  return {
    step: last.name,
    ...(batch !== undefined && !rollingBack ? { batch } : {}),
    ...(gate !== undefined && !rollingBack ? { gate } : {}),
    rollingBack,
  };
}

/** An execution's ARN from its state machine's ARN and its name. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return stateMachineArn.replace(':stateMachine:', ':execution:') + `:${name}`;
}
