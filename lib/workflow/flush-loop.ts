/**
 * The flush of an instance before it goes (Replace and Drain workflows): when the drain found a
 * flush document to run (`$.drain.flush.status` `Pending`), StartFlush sends it, then CheckFlush
 * polls it every FLUSH_POLL_SECONDS until it ends or its timeout passes. A flush that cannot be
 * run or checked never blocks what follows: it counts as `Failed` (FlushFailed).
 *
 *   FlushToRun? → StartFlush → FlushRunning? (→ WaitForFlush → CheckFlush → FlushRunning?)* → next
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { FlushState } from '../../lambdas/domain/drain';
import { FLUSH_POLL_SECONDS } from '../../lambdas/domain/drain';
import { DrainSteps } from '../../lambdas/domain/steps';
import { nextable, WorkflowKit } from './kit';
import type { CaughtError } from './state';

/** What the flush reads and writes of a workflow's state. */
interface FlushingState {
  readonly drain?: { readonly flush: FlushState };
  readonly flushError?: CaughtError;
}

export interface FlushLoopProps {
  /** The function behind StartFlush and CheckFlush: see `DrainSteps`. */
  readonly drainFunction: lambda.IFunction;
}

/** The flush loop as a fragment: `.next(x)` goes on at `x` however the flush ended. */
export class FlushLoop extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, props: FlushLoopProps) {
    super(scope, id);
    const k = new WorkflowKit<FlushingState>(scope, { pollInterval: Duration.seconds(FLUSH_POLL_SECONDS) });
    const flushStep = (step: typeof DrainSteps.StartFlush | typeof DrainSteps.CheckFlush) =>
      k.lambdaStep({
        fn: props.drainFunction,
        step,
        resultPath: '$.drain.flush',
        payload: { pollSeconds: FLUSH_POLL_SECONDS },
      });
    const startFlush = flushStep(DrainSteps.StartFlush);
    const checkFlush = flushStep(DrainSteps.CheckFlush);
    const waitForFlush = k.wait('WaitForFlush');
    const flushFailed = new sfn.Pass(scope, 'FlushFailed', {
      parameters: { status: 'Failed', 'reason.$': '$.flushError.Cause' },
      resultPath: '$.drain.flush',
    });
    for (const task of [startFlush, checkFlush]) {
      k.catch(task, flushFailed, { resultPath: '$.flushError' });
    }
    const flushToRun = k
      .choice('FlushToRun?')
      .when(k.when.equals('$.drain.flush.status', 'Pending'), startFlush);
    const flushRunning = k
      .choice('FlushRunning?')
      .when(k.when.equals('$.drain.flush.status', 'Running'), waitForFlush);
    startFlush.next(flushRunning);
    waitForFlush.next(checkFlush);
    checkFlush.next(flushRunning);

    this.startState = flushToRun;
    this.endStates = [
      nextable((next) => flushToRun.otherwise(next)),
      nextable((next) => flushRunning.otherwise(next)),
      flushFailed,
    ];
  }
}
