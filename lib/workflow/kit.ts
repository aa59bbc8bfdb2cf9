/**
 * The workflow vocabulary: Lambda steps with the transient-error retry, error routes named from
 * `ErrorNames`, "remember the failed step, then go on at…" (`onFailure`), and poll loops
 * (`pollUntil`), all typed against the workflow's state (see ./state.ts). Modelled on aws-cdk's
 * `aws-stepfunctions` fragments: each builder returns states or a `StateMachineFragment` that the
 * workflow chains with `.next()`.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { DetailTypes } from '../../lambdas/domain/contract';
import { type ErrorName, ErrorNames } from '../../lambdas/domain/errors';
import {
  type DrainStep,
  type FleetStep,
  type RecordStep,
  type ReplaceStep,
  type RetireInstanceStep,
  TRANSIENT_ERRORS,
  type ValidateStep,
} from '../../lambdas/domain/steps';
import { Conditions, type StatePath } from './state';

/** A `step` some handler dispatches on (lambdas/domain/steps.ts). */
export type StepName =
  FleetStep | RecordStep | ReplaceStep | DrainStep | typeof RetireInstanceStep | ValidateStep;

/** An outcome detail-type (lambdas/domain/contract.ts): the name of a workflow's end. */
export type Outcome = (typeof DetailTypes)[keyof typeof DetailTypes];

/** What a Catch may match: a Phoenix error, or any error (`States.ALL`). */
export type CatchableError = ErrorName | typeof sfn.Errors.ALL;

/** A state that can catch errors. */
export type Catchable = sfn.TaskStateBase | sfn.CustomState;

// The transient-error list (domain/steps.ts) must name Phoenix's own transient error.
const transientIsRetried: typeof ErrorNames.TransientAwsError extends (typeof TRANSIENT_ERRORS)[number]
  ? true
  : never = true;
void transientIsRetried;

/**
 * Retry `state` on the transient errors (Phoenix's `TransientAwsError` and the Lambda service's,
 * plus `extra`) with backoff and full jitter: 2 s, 4 s, 8 s, 3 attempts after the first.
 */
export function retryTransient(state: Catchable, extra: readonly string[] = []): void {
  state.addRetry({
    errors: [...TRANSIENT_ERRORS, ...extra],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 4,
    jitterStrategy: sfn.JitterType.FULL,
  });
}

export interface LambdaStepProps<S> {
  /** The function behind the step. */
  readonly fn: lambda.IFunction;
  /** The `step` the function dispatches on. */
  readonly step: StepName;
  /**
   * The state's name (when one step runs in several places, e.g. `CheckAlarmsAfterBatch`).
   * @default - the step
   */
  readonly name?: string;
  /** Where the step's result goes in the state. */
  readonly resultPath: StatePath<S>;
  /**
   * More fields of the payload, after `{ step, execution, state }` (JSONPath `.$` keys allowed).
   * @default - none
   */
  readonly payload?: Record<string, unknown>;
}

export interface CatchProps<S> {
  /**
   * The errors routed (a Catch is tried in the order it was added).
   * @default [States.ALL]
   */
  readonly errors?: readonly CatchableError[];
  /** Where the error (`{Error, Cause}`) goes in the state. */
  readonly resultPath: StatePath<S>;
}

export interface PollUntilProps<S> {
  /** The check: a Lambda step that records where the wait stands, and fails past its bound. */
  readonly check: LambdaStepProps<S>;
  /**
   * The bound, passed to the check as `maxChecks` (it throws its "not ready" error after that many).
   * @default - the check knows its bound (from the state, or the rollout's deadline)
   */
  readonly maxChecks?: number;
  /** Done waiting: the loop goes on at the state chained with `.next()`. */
  readonly until: sfn.Condition;
  /** The Choice after each check (e.g. `BatchHealthy?`). */
  readonly choice: string;
  /** The Wait between two checks (e.g. `WaitForHealthyBatch`). */
  readonly wait: string;
  /**
   * How long the Wait waits.
   * @default - the kit's poll interval
   */
  readonly interval?: Duration;
  /**
   * The check paces the loop itself: the Wait waits the seconds the check put at this path (see
   * lambdas/domain/pacing.ts), and `pacing` (the poll interval, `fastChecks`) is passed to the check.
   * Not with `waitFirst` (there is no check before the first Wait).
   * @default - every `interval`
   */
  readonly paced?: { readonly secondsPath: StatePath<S>; readonly fastChecks: number };
  /**
   * Wait one interval before the first check.
   * @default false: check at once (what is ready at once does not wait a poll for nothing)
   */
  readonly waitFirst?: boolean;
  /**
   * Other ways out of the loop, tried in this order before `until`.
   * @default - none
   */
  readonly exits?: readonly { readonly when: sfn.Condition; readonly next: sfn.IChainable }[];
}

/**
 * A poll loop: check, then (not ready) wait and check again, until `until` holds; `.next(x)` goes
 * on at `x`. The check is its start (or the Wait, `waitFirst`); `check` and `waitState` are
 * entries for states that join the loop.
 */
export class PollUntil extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** The check (add its Catch with `onFailure` or `catch`). */
  public readonly check: tasks.LambdaInvoke;
  /** The Wait before each check after the first (paced: the seconds the check asked for). */
  public readonly waitState: sfn.Wait;
  /** Paced: the Wait of one interval, for a check result without a pace (`<wait>Interval`). */
  public readonly intervalWaitState?: sfn.Wait;
  /** The Choice after each check. */
  public readonly choice: sfn.Choice;

  constructor(scope: Construct, id: string, check: tasks.LambdaInvoke, props: PollUntilProps<unknown>) {
    super(scope, id);
    this.check = check;
    const paced = props.paced;
    const interval = sfn.WaitTime.duration(props.interval!);
    this.waitState = new sfn.Wait(scope, props.wait, {
      time: paced !== undefined ? sfn.WaitTime.secondsPath(paced.secondsPath) : interval,
    });
    this.choice = new sfn.Choice(scope, props.choice);
    for (const exit of props.exits ?? []) this.choice.when(exit.when, exit.next);
    this.waitState.next(check);
    // Paced, a result without its pace (a step that does not know `pacing`) waits one interval: a
    // rule of the same Choice, so it costs no state and no history event.
    const intervalWait =
      paced !== undefined ? new sfn.Wait(scope, `${props.wait}Interval`, { time: interval }) : undefined;
    this.intervalWaitState = intervalWait;
    intervalWait?.next(check);
    check.next(this.choice);
    this.startState = props.waitFirst === true ? this.waitState : check;
    this.endStates = [
      nextable((next) => {
        this.choice.when(props.until, next);
        if (paced !== undefined && intervalWait !== undefined) {
          this.choice.when(sfn.Condition.not(sfn.Condition.isPresent(paced.secondsPath)), intervalWait);
        }
        this.choice.otherwise(this.waitState);
      }),
    ];
  }
}

/** An `INextable` whose `next(x)` runs `link(x)`: a fragment's way out that is a Choice branch. */
export function nextable(link: (next: sfn.IChainable) => void): sfn.INextable {
  return {
    next: (next: sfn.IChainable) => {
      link(next);
      return sfn.Chain.start(next);
    },
  };
}

/**
 * The vocabulary, bound to a workflow's scope and its state type `S`. States are created in
 * `scope` with the names given, so the definition's state names are exactly these.
 */
export class WorkflowKit<S> {
  /** Choice conditions on the paths of `S`. */
  public readonly when = new Conditions<S>();

  constructor(
    private readonly scope: Construct,
    private readonly defaults: { readonly pollInterval: Duration },
  ) {}

  /**
   * A Lambda task that passes `{ step, execution, state, ...payload }` to `fn`, puts the result at
   * `resultPath` and retries the transient errors.
   */
  lambdaStep(props: LambdaStepProps<S>): tasks.LambdaInvoke {
    const name = props.name ?? props.step;
    const task = new tasks.LambdaInvoke(this.scope, name, {
      stateName: name,
      lambdaFunction: props.fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        step: props.step,
        'execution.$': '$$.Execution.Name',
        'state.$': '$',
        ...props.payload,
      }),
      resultPath: props.resultPath,
    });
    retryTransient(task);
    return task;
  }

  /** Route the errors of `state` to `next`, the error recorded at `resultPath`. */
  catch(state: Catchable, next: sfn.IChainable, props: CatchProps<S>): void {
    state.addCatch(next, { errors: [...(props.errors ?? [sfn.Errors.ALL])], resultPath: props.resultPath });
  }

  /**
   * Remember the failed step, then go on at `then`: any terminal error of each state goes to a Pass
   * `<state>Failed` that records the state's name at `$.failedStep` (the error is at `$.error`).
   */
  onFailure(states: readonly Catchable[], then: sfn.IChainable): void {
    for (const state of states) {
      const remember = new sfn.Pass(this.scope, `${state.id}Failed`, {
        result: sfn.Result.fromString(state.id),
        resultPath: '$.failedStep',
      });
      remember.next(then);
      state.addCatch(remember, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    }
  }

  /** Poll until ready (see `PollUntil`): the check is built from `props.check` (with `maxChecks`). */
  pollUntil(id: string, props: PollUntilProps<S>): PollUntil {
    const interval = props.interval ?? this.defaults.pollInterval;
    if (props.paced !== undefined && props.waitFirst === true) {
      throw new Error(`${id}: a paced poll loop checks first (no waitFirst)`);
    }
    const payload = {
      ...props.check.payload,
      ...(props.maxChecks !== undefined ? { maxChecks: props.maxChecks } : {}),
      ...(props.paced !== undefined
        ? { pacing: { pollSeconds: interval.toSeconds(), fastChecks: props.paced.fastChecks } }
        : {}),
    };
    const check = this.lambdaStep({ ...props.check, payload });
    return new PollUntil(this.scope, id, check, { ...props, interval } as PollUntilProps<unknown>);
  }

  /** A Wait of the poll interval (or `time`). */
  wait(name: string, time: sfn.WaitTime = sfn.WaitTime.duration(this.defaults.pollInterval)): sfn.Wait {
    return new sfn.Wait(this.scope, name, { time });
  }

  /** A Wait of the number of seconds at `path` (warm-up, bake, deregistration delay). */
  waitSeconds(name: string, path: StatePath<S>): sfn.Wait {
    return new sfn.Wait(this.scope, name, { time: sfn.WaitTime.secondsPath(path) });
  }

  /** A Choice. */
  choice(name: string): sfn.Choice {
    return new sfn.Choice(this.scope, name);
  }

  /**
   * A failed end named after its outcome, the error's cause at `causePath`: only for the outcomes
   * that need a human (`RolloutFailed`, `ReplacementFailed`, `DrainFailed`), which the
   * ExecutionsFailed alarm counts.
   */
  fail(outcome: Outcome, causePath: StatePath<S>): sfn.Fail {
    return new sfn.Fail(this.scope, outcome, { error: outcome, causePath });
  }

  /**
   * A handled end (rejected, rolled back, superseded, paused): the outcome was reported and
   * nothing needs a human, so the execution SUCCEEDS (no failed-executions alarm) with the
   * output `HandledEndOutput` (see ./state.ts): a Pass `<outcome>Output` that builds it, then a
   * Succeed named after the outcome. `outcome` is the outcome's name, or, for an outcome the state
   * carries (a stop at a safe point), its path and the Succeed's name; each field's path must be
   * set on every way in.
   */
  handledEnd(
    outcome: Outcome | { readonly path: StatePath<S>; readonly name: string },
    fields: { readonly reason: StatePath<S>; readonly error?: StatePath<S>; readonly step?: StatePath<S> },
  ): sfn.Chain {
    const name = typeof outcome === 'string' ? outcome : outcome.name;
    const parameters: Record<string, unknown> = {
      ...(typeof outcome === 'string' ? { outcome } : { 'outcome.$': outcome.path }),
      'reason.$': fields.reason,
      ...(fields.error !== undefined ? { 'error.$': fields.error } : {}),
      ...(fields.step !== undefined ? { 'step.$': fields.step } : {}),
    };
    const output = new sfn.Pass(this.scope, `${name}Output`, { parameters });
    return output.next(new sfn.Succeed(this.scope, name));
  }

  /** A successful end named after its outcome. */
  succeed(outcome: Outcome): sfn.Succeed {
    return new sfn.Succeed(this.scope, outcome);
  }

  /** A successful end that is no outcome of its own (the outcome was reported before): what happened. */
  stop(name: string, comment: string): sfn.Succeed {
    return new sfn.Succeed(this.scope, name, { comment });
  }
}
