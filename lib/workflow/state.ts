/**
 * What each workflow carries in its state object, as types: the paths a step writes its result to
 * (`resultPath`), a Catch records its error at, and a Choice reads, are checked against them.
 * The steps' own result types come from lambdas/domain (pure modules); what only the workflow
 * reads is declared here.
 */
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { BlueGreenWorkflowState } from '../../lambdas/domain/blue-green';
import type { DrainInput, DrainState } from '../../lambdas/domain/drain';
import type { ReplaceState } from '../../lambdas/domain/replace';

/** An error as a Catch records it (`ResultPath`): the error's name and its cause. */
export interface CaughtError {
  readonly Error: string;
  readonly Cause: string;
}

/**
 * The output of an execution that ended in a handled outcome (`WorkflowKit.handledEnd`): the
 * execution SUCCEEDED (nothing needs a human), and this says how it ended. Only `RolloutFailed`,
 * `ReplacementFailed` and `DrainFailed` end FAILED (error = the outcome, cause = the error's cause).
 */
export interface HandledEndOutput {
  /** The outcome reported: `RolloutRejected`, `RolloutRolledBack`, `RolloutSuperseded`, `RolloutPaused`. */
  readonly outcome: string;
  /**
   * Why: the caught error's cause as Step Functions recorded it (for a Lambda error, the JSON
   * `{errorType, errorMessage}`), or the safe point's reason for a stop.
   */
  readonly reason: string;
  /** The caught error's name (`ImageRejectedError`, `AlarmBreachedError`…), when an error ended it. */
  readonly error?: string;
  /** The step that failed, for a rollback. */
  readonly step?: string;
}

/** The Rollout workflow's state (rolling and blue-green): input, step results, caught errors. */
export interface RolloutState extends BlueGreenWorkflowState {
  /** AcquireFleetLock asked the rollout to wait in line (`RolloutQueuedError`, `RolloutSlotQueuedError`). */
  readonly queued?: CaughtError;
  /** WaitForRolloutSlot: how the wait for a global rollout slot ended (the wake-up's output). */
  readonly slotWait?: unknown;
  /** WaitForRolloutSlot timed out (`States.Timeout`) or failed: the rollout asks again anyway. */
  readonly slotWaitError?: CaughtError;
  /** SuspendScalingProcesses: the processes it suspended. */
  readonly suspended?: unknown;
  /** CheckAlarms (before the start, after a batch, after the bake). */
  readonly alarmCheck?: unknown;
  /** ReleaseFleet: the processes resumed, the limits restored. */
  readonly release?: unknown;
  /** CommitRollout or ReportOutcome. */
  readonly report?: unknown;
  /** ContinueAsNew: the continuation's execution. */
  readonly continued?: { readonly executionArn: string };
  /** CutOverToGreen (blue-green). */
  readonly cutover?: unknown;
  /** The report itself failed: the execution ends anyway. */
  readonly reportError?: CaughtError;
  /** ReleaseFleet failed after a failure: RolloutFailed is reported anyway. */
  readonly releaseError?: CaughtError;
  /** The blue-green commit after a failed RetireBlue failed: RolloutFailed is reported anyway. */
  readonly commitError?: CaughtError;
}

/** The Replace workflow's state. */
export interface ReplaceWorkflowState extends ReplaceState {
  /** TaintInstance. */
  readonly taint?: unknown;
  /** ReleaseReplacementSlot (with the outcome it reported). */
  readonly report?: unknown;
  readonly reportError?: CaughtError;
  /** StartFlush or CheckFlush failed: the flush counts as Failed, the replacement goes on. */
  readonly flushError?: CaughtError;
}

/** The Drain workflow's state (one termination lifecycle action). */
export interface DrainWorkflowState extends DrainInput {
  /** ResolveLifecycleAction, then the flush (`$.drain.flush`). */
  readonly drain?: DrainState & { readonly fleet?: string; readonly drained?: boolean };
  /** CompleteLifecycleAction. */
  readonly completion?: unknown;
  /** ReportDrainFailed. */
  readonly report?: unknown;
  readonly error?: CaughtError;
  readonly flushError?: CaughtError;
  readonly reportError?: CaughtError;
}

type Keys<T> = Extract<keyof T, string>;
/** `a`, `a.b`, `a.b.c`: the fields of `T` at most `3 - depth.length` levels down (arrays are leaves). */
type FieldPath<T, Depth extends readonly unknown[] = []> = Depth['length'] extends 3
  ? never
  : NonNullable<T> extends readonly unknown[]
    ? never
    : NonNullable<T> extends object
      ? {
          [K in Keys<NonNullable<T>>]: K | `${K}.${FieldPath<NonNullable<T>[K], [...Depth, unknown]>}`;
        }[Keys<NonNullable<T>>]
      : never;

/** A JSONPath into the state object `S`: `$.progress`, `$.drain.flush`, `$.safePoint.continuation.name`. */
export type StatePath<S> = `$.${FieldPath<S>}`;

/** Choice conditions on the paths of `S` (a typo in a path does not compile). */
export class Conditions<S> {
  /** The field is there (a step set it). */
  isPresent(path: StatePath<S>): sfn.Condition {
    return sfn.Condition.isPresent(path);
  }
  /**
   * The field is not there: `Not: {IsPresent: true}`, same meaning in AWS as `IsPresent: false`,
   * which the local engine (aws-local-stepfunctions) never matches (local/stepfunctions/definition.ts
   * refuses it).
   */
  isNotPresent(path: StatePath<S>): sfn.Condition {
    return sfn.Condition.not(sfn.Condition.isPresent(path));
  }
  /** The field is `true`. */
  isTrue(path: StatePath<S>): sfn.Condition {
    return sfn.Condition.booleanEquals(path, true);
  }
  /** The field equals `value` (a number or a string). */
  equals(path: StatePath<S>, value: number | string): sfn.Condition {
    return typeof value === 'number'
      ? sfn.Condition.numberEquals(path, value)
      : sfn.Condition.stringEquals(path, value);
  }
  /** The number at `path` is less than the number at `other`. */
  lessThan(path: StatePath<S>, other: StatePath<S>): sfn.Condition {
    return sfn.Condition.numberLessThanJsonPath(path, other);
  }
}
