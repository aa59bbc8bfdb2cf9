/**
 * Definition rewriting: what the local runtime checks and changes in a synthesized state machine
 * definition before aws-local-stepfunctions runs it.
 *
 * - Refused: what the engine silently ignores (JSONata, variables) or misreads (a Choice type test
 *   set to false: `IsPresent: false` never matches), so nothing runs differently locally without
 *   a word; Task Resources the local runtime cannot run; state names used twice (the engine's
 *   overrides are by state name).
 * - Time: `Wait` states with `Seconds` wait Seconds × timeScale (`waitTimeOverrides`); `Wait`
 *   states with `SecondsPath`/`Timestamp`/`TimestampPath` become a local task that waits the
 *   scaled time; Retry intervals (`IntervalSeconds`, `MaxDelaySeconds`) are scaled in the executed
 *   copy, so backoff and jitter behave as in AWS, only faster.
 * - Tasks: every Task state is bound to a handler (see `tasks.ts`); a callback task
 *   (`.waitForTaskToken`) waits for its token, its TimeoutSeconds and HeartbeatSeconds scaled
 *   (`callbacks.ts`).
 */
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { describeError, type LocalLogger } from '../log';
import { InvalidDefinitionError, UnsupportedTaskResourceError } from './api';

export type StateDef = Record<string, unknown> & { Type?: string };
export type MachineDef = { StartAt: string; States: Record<string, StateDef>; [key: string]: unknown };
/** The execution a Task state runs in: for what a task records in the history (callback tasks). */
export interface TaskRun {
  readonly executionArn: string;
  readonly stateName: string;
  /** Add a state-level event to the execution's history (`TaskSubmitted`…). */
  addEvent(type: string, details: Record<string, unknown>): void;
}
/** Runs one Task state; `signal` aborts when the execution is stopped. */
export type TaskHandler = (input: unknown, signal: AbortSignal, run: TaskRun) => Promise<unknown>;
/** The handler of a Task state, or undefined when the local runtime cannot run its Resource. */
export type TaskBinder = (state: StateDef) => TaskHandler | undefined;

const LOCAL_WAIT_RESOURCE = 'arn:aws:states:::phoenix-local:wait';
/** Under setTimeout's limit (2^31-1 ms). */
export const LOCAL_WAIT_TASK_TIMEOUT_SECONDS = 2_000_000;

/** What the engine runs: the rewritten definition and the overrides it is run with. */
export interface ExecutableDefinition {
  /** Scaled retries, rewritten path-based waits. Clone it per execution (the engine mutates it). */
  readonly executable: MachineDef;
  /** By state name: bound Task states and rewritten Wait states. */
  readonly taskHandlers: Record<string, TaskHandler>;
  /** By state name: the scaled wait of `Seconds` Wait states, in ms. */
  readonly waitTimeOverrides: Record<string, number>;
}

export interface PrepareOptions {
  readonly timeScale: number;
  readonly bindTask: TaskBinder;
  readonly log: LocalLogger;
}

/** Every state, nested Map iterators and Parallel branches included. */
export function forEachState(machine: MachineDef, visit: (name: string, state: StateDef) => void): void {
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    visit(name, state);
    if (state.Type === 'Map') {
      const inner = (state.ItemProcessor ?? state.Iterator) as MachineDef | undefined;
      if (inner !== undefined) forEachState(inner, visit);
    }
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      for (const branch of state.Branches as MachineDef[]) forEachState(branch, visit);
    }
  }
}

/**
 * JSONata and variables: the engine ignores them without a word (docs/architecture.md, "Toolchain
 * facts").
 */
export function ignoredFeatures(definition: MachineDef): string[] {
  const found: string[] = [];
  if (definition.QueryLanguage === 'JSONata') found.push('QueryLanguage JSONata (top level)');
  forEachState(definition, (name, state) => {
    if (state.QueryLanguage === 'JSONata') found.push(`state ${name}: QueryLanguage JSONata`);
    for (const field of ['Assign', 'Arguments', 'Output']) {
      if (field in state) found.push(`state ${name}: ${field}`);
    }
    for (const list of ['Catch', 'Choices'] as const) {
      const items = state[list];
      if (
        Array.isArray(items) &&
        items.some(
          (item) => typeof item === 'object' && item !== null && ('Assign' in item || 'Condition' in item),
        )
      ) {
        found.push(`state ${name}: Assign/Condition in ${list}`);
      }
    }
  });
  return found;
}

/** Choice rule type tests: `<test>: false` never matches in the engine (`test && ...`), in AWS it does. */
const TYPE_TESTS = ['IsPresent', 'IsNull', 'IsNumeric', 'IsString', 'IsBoolean', 'IsTimestamp'] as const;

/**
 * Choice rules (nested in And, Or, Not too) with a type test set to false: aws-local-stepfunctions
 * evaluates `IsPresent: false` as never true, where AWS matches an absent field. `Not` with the
 * test set to true means the same in both.
 */
export function falseTypeTests(definition: MachineDef): string[] {
  const found: string[] = [];
  const visitRule = (state: string, rule: unknown): void => {
    if (typeof rule !== 'object' || rule === null) return;
    const r = rule as Record<string, unknown>;
    for (const test of TYPE_TESTS) if (r[test] === false) found.push(`state ${state}: ${test}: false`);
    for (const list of ['And', 'Or'])
      if (Array.isArray(r[list])) for (const inner of r[list]) visitRule(state, inner);
    if ('Not' in r) visitRule(state, r['Not']);
  };
  forEachState(definition, (name, state) => {
    if (state.Type === 'Choice' && Array.isArray(state.Choices))
      for (const rule of state.Choices) visitRule(name, rule);
  });
  return found;
}

/** Parse a definition and check it runs locally as it would in AWS (InvalidDefinitionError if not). */
export function parseDefinition(
  machineName: string,
  definition: string | object,
): { definitionString: string; original: MachineDef } {
  const definitionString = typeof definition === 'string' ? definition : JSON.stringify(definition);
  let original: MachineDef;
  try {
    original = JSON.parse(definitionString) as MachineDef;
  } catch (error) {
    throw new InvalidDefinitionError(
      `State machine ${machineName}: the definition is not JSON: ${describeError(error)}`,
    );
  }
  const ignored = ignoredFeatures(original);
  if (ignored.length > 0) {
    throw new InvalidDefinitionError(
      `State machine ${machineName} uses what aws-local-stepfunctions silently ignores, so it would run differently locally: ${ignored.join('; ')}. Use JSONPath (InputPath, Parameters, ResultSelector, ResultPath, OutputPath).`,
    );
  }
  const misread = falseTypeTests(original);
  if (misread.length > 0) {
    throw new InvalidDefinitionError(
      `State machine ${machineName} uses Choice rules that aws-local-stepfunctions never matches (AWS does), so it would run differently locally: ${misread.join('; ')}. Use Not with the test set to true.`,
    );
  }
  try {
    // The library mutates what it is given: always a clone.
    new StateMachine(structuredClone(original) as unknown as StateMachineDefinition, {
      validationOptions: { checkPaths: false, checkArn: false },
    });
  } catch (error) {
    throw new InvalidDefinitionError(`State machine ${machineName}: ${describeError(error)}`);
  }
  return { definitionString, original };
}

/** The executed copy of `original`: scaled time, bound tasks. Throws on what cannot run locally. */
export function prepareExecutable(
  machineName: string,
  original: MachineDef,
  options: PrepareOptions,
): ExecutableDefinition {
  const executable = structuredClone(original);
  const taskHandlers: Record<string, TaskHandler> = {};
  const waitTimeOverrides: Record<string, number> = {};
  const seen = new Set<string>();
  const problems: string[] = [];
  forEachState(executable, (stateName, state) => {
    if (seen.has(stateName)) {
      problems.push(`state name ${JSON.stringify(stateName)} is used twice (overrides are by state name)`);
    }
    seen.add(stateName);
    scaleRetries(state, options.timeScale);
    if (state.Type === 'Wait') {
      if (typeof state.Seconds === 'number') {
        waitTimeOverrides[stateName] = state.Seconds * 1000 * options.timeScale;
        return;
      }
      const handler = rewriteWait(stateName, state, options.timeScale);
      if (handler !== undefined) taskHandlers[stateName] = handler;
      else {
        options.log.warn(
          `state machine ${machineName}: Wait state ${stateName} uses a context or complex path; it waits in real time locally`,
        );
      }
    } else if (state.Type === 'Task') {
      const handler = options.bindTask(state);
      if (handler !== undefined) taskHandlers[stateName] = handler;
      else
        problems.push(
          `Task state ${JSON.stringify(stateName)} has Resource ${JSON.stringify(state.Resource)}`,
        );
    }
  });
  if (problems.length > 0) {
    throw new UnsupportedTaskResourceError(
      `State machine ${machineName} cannot run locally: ${problems.join('; ')}. The local runtime runs Lambda tasks (a function ARN of the template, or arn:aws:states:::lambda:invoke or arn:aws:states:::lambda:invoke.waitForTaskToken with one of them as FunctionName) and arn:aws:states:::states:startExecution.`,
    );
  }
  return { executable, taskHandlers, waitTimeOverrides };
}

/** Retry intervals × timeScale (IntervalSeconds defaults to 1, as in AWS). */
function scaleRetries(state: StateDef, scale: number): void {
  if (!Array.isArray(state.Retry)) return;
  for (const retrier of state.Retry as Record<string, unknown>[]) {
    retrier.IntervalSeconds =
      (typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1) * scale;
    if (typeof retrier.MaxDelaySeconds === 'number') retrier.MaxDelaySeconds *= scale;
  }
}

/**
 * Turn a path- or timestamp-based Wait into a Task run by a local handler that waits the scaled
 * time and passes its input through (same InputPath/OutputPath, Next/End). Undefined (and the
 * state left as it is) when its path is not a simple one.
 */
function rewriteWait(stateName: string, state: StateDef, scale: number): TaskHandler | undefined {
  const delayMs = waitDelay(stateName, state, scale);
  if (delayMs === undefined) return undefined;
  for (const key of ['Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath']) delete state[key];
  state.Type = 'Task';
  state.Resource = LOCAL_WAIT_RESOURCE;
  state.TimeoutSeconds = LOCAL_WAIT_TASK_TIMEOUT_SECONDS;
  return (input, signal) => {
    const ms = delayMs(input);
    return new Promise((resolve) => {
      // Wake early when the execution is stopped (the library ignores the result then).
      const onAbort = () => {
        clearTimeout(timer);
        resolve(input);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(input);
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };
}

/** The scaled delay of a SecondsPath / Timestamp / TimestampPath Wait, from its input. */
function waitDelay(
  stateName: string,
  state: StateDef,
  scale: number,
): ((input: unknown) => number) | undefined {
  if (isSimplePath(state.SecondsPath)) {
    const p = state.SecondsPath;
    return (input) => {
      const result = simplePath(p, input);
      const seconds = result.ok ? result.value : undefined;
      if (typeof seconds !== 'number' || seconds < 0) {
        throw runtimeError(`SecondsPath ${p} of Wait state ${stateName} does not point to a number >= 0`);
      }
      return seconds * 1000 * scale;
    };
  }
  if (typeof state.Timestamp === 'string') {
    const at = Date.parse(state.Timestamp);
    return () => Math.max(0, at - Date.now()) * scale;
  }
  if (isSimplePath(state.TimestampPath)) {
    const p = state.TimestampPath;
    return (input) => {
      const result = simplePath(p, input);
      const at = result.ok && typeof result.value === 'string' ? Date.parse(result.value) : NaN;
      if (Number.isNaN(at)) {
        throw runtimeError(`TimestampPath ${p} of Wait state ${stateName} does not point to a timestamp`);
      }
      return Math.max(0, at - Date.now()) * scale;
    };
  }
  return undefined;
}

function runtimeError(message: string): Error {
  const error = new Error(message);
  error.name = 'States.Runtime';
  return error;
}

/** Evaluate a simple reference path (`$`, `$.a.b`, `$['a'][0]`) against a value; undefined if unsupported. */
function simplePath(pathExpression: string, value: unknown): { ok: true; value: unknown } | { ok: false } {
  if (!pathExpression.startsWith('$') || pathExpression.startsWith('$$')) return { ok: false };
  const segments: (string | number)[] = [];
  const re = /\.([A-Za-z_][\w-]*)|\['([^']*)'\]|\[(\d+)\]/gy;
  re.lastIndex = 1;
  while (re.lastIndex < pathExpression.length) {
    const match = re.exec(pathExpression);
    if (match === null) return { ok: false };
    segments.push(match[1] ?? match[2] ?? Number(match[3]));
  }
  let current: unknown = value;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return { ok: true, value: undefined };
    current = (current as Record<string | number, unknown>)[segment];
  }
  return { ok: true, value: current };
}

function isSimplePath(pathExpression: unknown): pathExpression is string {
  return typeof pathExpression === 'string' && simplePath(pathExpression, {}).ok;
}
