/**
 * The blue-green branch of the Rollout workflow (`phoenix:strategy=blue-green`), entered after the
 * image is validated and the gating alarms are checked:
 *
 *   CreateGreenGroup → CheckGreenCapacity (→ Wait → CheckGreenCapacity)* → WarmUpGreen →
 *   AttachGreenTargetGroups → CheckGreenTargets (→ Wait → CheckGreenTargets)* →
 *   CheckAlarmsAfterGreen → [canary: ScaleGreenGroup, back to the capacity check] → BakeGreen → CheckAlarmsAfterGreenBake → CutOverToGreen → (RetireBlue, Wait)* →
 *   CommitRollout.
 *
 * Any failure up to and including CutOverToGreen rolls back: DiscardGreen (the identity back on
 * blue if the cutover had begun; green detached and deleted; blue untouched) → RolloutRolledBack.
 * After the cutover the fleet is green and the rollout only goes forward: a RetireBlue that fails
 * after its retries still commits the fleet on the new image, then reports RolloutFailed naming
 * RetireBlue (the old group, tagged `phoenix:blue-of`, is no fleet any more and needs a human).
 */
import type { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { FleetSteps, RecordSteps } from '../lambdas/domain/steps';
import { lambdaStep } from './workflow-kit';

export interface BlueGreenStatesProps {
  readonly fleetFunction: lambda.IFunction;
  readonly recordFunction: lambda.IFunction;
  readonly pollInterval: Duration;
  /** Health checks of one gate (green capacity, green in the target groups, blue draining). */
  readonly maxChecks: number;
  /** The commit (CommitRollout, then success). */
  readonly commit: sfn.IChainable;
  /** Report RolloutRolledBack and end. */
  readonly reportRolledBack: sfn.IChainable;
  /** Report RolloutFailed and end (the rollback itself failed). */
  readonly reportFailed: sfn.IChainable;
  /** The RolloutFailed terminal state. */
  readonly failed: sfn.Fail;
}

/** The condition of the branch: the fleet's `phoenix:strategy` is `blue-green`. */
export const isBlueGreen = sfn.Condition.and(
  sfn.Condition.isPresent('$.fleetState.strategy'),
  sfn.Condition.stringEquals('$.fleetState.strategy', 'blue-green'),
);

/** Build the branch in `scope`; returns its first state. */
export function blueGreenStates(scope: Construct, props: BlueGreenStatesProps): sfn.IChainable {
  const fleet = (name: string, resultPath: string, extra: Record<string, unknown> = {}, stepName = name) =>
    lambdaStep(scope, props.fleetFunction, name, resultPath, extra, stepName);
  const poll = () => sfn.WaitTime.duration(props.pollInterval);

  // Rollback: blue never changed; green goes.
  const discard = fleet(FleetSteps.DiscardGreen, '$.rollback');
  discard.addCatch(props.reportFailed, { resultPath: '$.rollbackError' });
  discard.next(props.reportRolledBack);
  const rollbackOnFailure = (task: tasks.LambdaInvoke) => {
    const remember = new sfn.Pass(scope, `${task.id}Failed`, {
      result: sfn.Result.fromString(task.id),
      resultPath: '$.failedStep',
    });
    remember.next(discard);
    task.addCatch(remember, { errors: ['States.ALL'], resultPath: '$.error' });
  };

  const create = fleet(FleetSteps.CreateGreenGroup, '$.green');
  const waitForGreen = new sfn.Wait(scope, 'WaitForGreen', { time: poll() });
  const checkCapacity = fleet(
    'CheckGreenCapacity',
    '$.greenCheck',
    { gate: 'capacity', maxChecks: props.maxChecks },
    FleetSteps.CheckGreenHealth,
  );
  const warmUp = new sfn.Wait(scope, 'WarmUpGreen', {
    time: sfn.WaitTime.secondsPath('$.fleetState.warmupSeconds'),
  });
  const attach = fleet(FleetSteps.AttachGreenTargetGroups, '$.green');
  const waitForTargets = new sfn.Wait(scope, 'WaitForGreenTargets', { time: poll() });
  const checkTargets = fleet(
    'CheckGreenTargets',
    '$.greenCheck',
    { gate: 'targets', maxChecks: props.maxChecks },
    FleetSteps.CheckGreenHealth,
  );
  const alarmsAfterGreen = fleet(
    'CheckAlarmsAfterGreen',
    '$.alarmCheck',
    { phase: 'batch' },
    FleetSteps.CheckAlarms,
  );
  const scale = fleet(FleetSteps.ScaleGreenGroup, '$.green');
  const bake = new sfn.Wait(scope, 'BakeGreen', {
    time: sfn.WaitTime.secondsPath('$.fleetState.bakeSeconds'),
  });
  const alarmsAfterBake = fleet(
    'CheckAlarmsAfterGreenBake',
    '$.alarmCheck',
    { phase: 'bake' },
    FleetSteps.CheckAlarms,
  );
  const cutOver = fleet(FleetSteps.CutOverToGreen, '$.cutover');
  for (const task of [
    create,
    checkCapacity,
    attach,
    checkTargets,
    alarmsAfterGreen,
    scale,
    alarmsAfterBake,
    cutOver,
  ]) {
    rollbackOnFailure(task);
  }

  // After the cutover: forward only.
  const retire = fleet(FleetSteps.RetireBlue, '$.retire', { maxChecks: props.maxChecks });
  const waitForDrain = new sfn.Wait(scope, 'WaitForBlueDrain', { time: poll() });
  const retireFailed = new sfn.Pass(scope, 'RetireBlueFailed', {
    result: sfn.Result.fromString(FleetSteps.RetireBlue),
    resultPath: '$.failedStep',
  });
  retire.addCatch(retireFailed, { errors: ['States.ALL'], resultPath: '$.error' });
  const commitGreen = lambdaStep(
    scope,
    props.recordFunction,
    'CommitGreenFleet',
    '$.report',
    {},
    RecordSteps.CommitRollout,
  );
  const reportBlueLeft = lambdaStep(
    scope,
    props.recordFunction,
    'ReportBlueNotRetired',
    '$.report',
    { outcome: 'RolloutFailed' },
    RecordSteps.ReportOutcome,
  );
  commitGreen.addCatch(reportBlueLeft, { errors: ['States.ALL'], resultPath: '$.commitError' });
  reportBlueLeft.addCatch(props.failed, { resultPath: '$.reportError' });
  // What the commit reports as instancesReplaced: the whole fleet.
  const replaced = (id: string) =>
    new sfn.Pass(scope, id, {
      parameters: { 'replaced.$': '$.fleetState.desiredCapacity' },
      resultPath: '$.progress',
    });
  retireFailed
    .next(replaced('GreenReplacedFleetAnyway'))
    .next(commitGreen)
    .next(reportBlueLeft)
    .next(props.failed);

  // Each gate is checked once right away, then after each poll interval: green that is at capacity
  // (or healthy in the target groups) at once does not wait a poll for nothing. The immediate check
  // counts towards maxChecks.
  create.next(checkCapacity);
  waitForGreen.next(checkCapacity);
  checkCapacity.next(
    new sfn.Choice(scope, 'GreenAtCapacity?')
      .when(sfn.Condition.booleanEquals('$.greenCheck.ready', true), warmUp)
      .otherwise(waitForGreen),
  );
  warmUp.next(attach).next(checkTargets);
  waitForTargets.next(checkTargets);
  checkTargets.next(
    new sfn.Choice(scope, 'GreenHealthyInTargetGroups?')
      .when(sfn.Condition.booleanEquals('$.greenCheck.ready', true), alarmsAfterGreen)
      .otherwise(waitForTargets),
  );
  alarmsAfterGreen.next(
    new sfn.Choice(scope, 'GreenBelowFleetCapacity?')
      .when(sfn.Condition.numberLessThanJsonPath('$.green.desired', '$.fleetState.desiredCapacity'), scale)
      .otherwise(bake),
  );
  scale.next(checkCapacity);
  bake.next(alarmsAfterBake).next(cutOver).next(retire);
  retire.next(
    new sfn.Choice(scope, 'BlueRetired?')
      .when(
        sfn.Condition.booleanEquals('$.retire.deleted', true),
        replaced('GreenReplacedFleet').next(props.commit),
      )
      .otherwise(waitForDrain),
  );
  waitForDrain.next(retire);
  return create;
}
