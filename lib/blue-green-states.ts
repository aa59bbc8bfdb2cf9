/**
 * The blue-green branch of the Rollout workflow (`phoenix:strategy=blue-green`), entered after the
 * image is validated and the gating alarms are checked:
 *
 *   green up:   CreateGreenGroup → CheckGreenCapacity (↺ WaitForGreenCapacity) → WarmUpGreen →
 *               AttachGreenTargetGroups → CheckGreenTargets (↺ WaitForGreenTargets) →
 *               CheckAlarmsAfterGreen → [canary: ScaleGreenGroup, back to the capacity check]
 *   cut over:   BakeGreen → CheckAlarmsAfterGreenBake → CutOverToGreen
 *   retire:     RetireBlue (↺ WaitForBlueDrain) → GreenReplacedFleet → CommitRollout
 *
 * Any failure up to and including CutOverToGreen rolls back: DiscardGreen (the identity back on
 * blue if the cutover had begun; green detached and deleted; blue untouched) → RolloutRolledBack.
 * After the cutover the fleet is green and the rollout only goes forward: a RetireBlue that fails
 * after its retries still commits the fleet on the new image, then reports RolloutFailed naming
 * RetireBlue (the old group, tagged `phoenix:blue-of`, is no fleet any more and needs a human).
 */
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { DetailTypes } from '../lambdas/domain/contract';
import { type FleetStep, FleetSteps, RecordSteps } from '../lambdas/domain/steps';
import { Conditions, type RolloutState, type StatePath, type WorkflowKit } from './workflow-kit';

export interface BlueGreenStatesProps {
  /** The Rollout workflow's vocabulary (its scope, its poll interval). */
  readonly kit: WorkflowKit<RolloutState>;
  readonly fleetFunction: lambda.IFunction;
  readonly recordFunction: lambda.IFunction;
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
const when = new Conditions<RolloutState>();
export const isBlueGreen = sfn.Condition.and(
  when.isPresent('$.fleetState.strategy'),
  when.equals('$.fleetState.strategy', 'blue-green'),
);

/** Build the branch in `scope`; returns its first state. */
export function blueGreenStates(scope: Construct, props: BlueGreenStatesProps): sfn.IChainable {
  const k = props.kit;
  const fleet = (
    step: FleetStep,
    resultPath: StatePath<RolloutState>,
    payload?: Record<string, unknown>,
    name?: string,
  ) => k.lambdaStep({ fn: props.fleetFunction, step, resultPath, payload, name });
  /** A gate: green checked at once, then after each poll interval, until ready (at most maxChecks). */
  const greenGate = (
    id: string,
    gate: 'capacity' | 'targets',
    names: { check: string; choice: string; wait: string },
  ) =>
    k.pollUntil(id, {
      check: {
        fn: props.fleetFunction,
        step: FleetSteps.CheckGreenHealth,
        name: names.check,
        resultPath: '$.greenCheck',
        payload: { gate },
      },
      maxChecks: props.maxChecks,
      until: k.when.isTrue('$.greenCheck.ready'),
      choice: names.choice,
      wait: names.wait,
    });
  // What the commit reports as instancesReplaced: the whole fleet.
  const replaced = (id: string) =>
    new sfn.Pass(scope, id, {
      parameters: { 'replaced.$': '$.fleetState.desiredCapacity' },
      resultPath: '$.progress',
    });

  // Rollback: blue never changed; green goes.
  const discard = fleet(FleetSteps.DiscardGreen, '$.rollback');
  k.catch(discard, props.reportFailed, { resultPath: '$.rollbackError' });
  discard.next(props.reportRolledBack);

  // Green up: created, at capacity, warmed up, healthy in blue's target groups, alarms OK; a canary
  // (green of 1) is then scaled to the fleet's capacity and checked again.
  const create = fleet(FleetSteps.CreateGreenGroup, '$.green');
  const atCapacity = greenGate('GreenCapacityLoop', 'capacity', {
    check: 'CheckGreenCapacity',
    choice: 'GreenAtCapacity?',
    wait: 'WaitForGreenCapacity',
  });
  const warmUp = k.waitSeconds('WarmUpGreen', '$.fleetState.warmupSeconds');
  const attach = fleet(FleetSteps.AttachGreenTargetGroups, '$.green');
  const inTargetGroups = greenGate('GreenTargetsLoop', 'targets', {
    check: 'CheckGreenTargets',
    choice: 'GreenHealthyInTargetGroups?',
    wait: 'WaitForGreenTargets',
  });
  const alarmsAfterGreen = fleet(
    FleetSteps.CheckAlarms,
    '$.alarmCheck',
    { phase: 'batch' },
    'CheckAlarmsAfterGreen',
  );
  const scale = fleet(FleetSteps.ScaleGreenGroup, '$.green');
  // Cut over: bake, alarms OK, the fleet's identity moves to green.
  const bake = k.waitSeconds('BakeGreen', '$.fleetState.bakeSeconds');
  const alarmsAfterBake = fleet(
    FleetSteps.CheckAlarms,
    '$.alarmCheck',
    { phase: 'bake' },
    'CheckAlarmsAfterGreenBake',
  );
  const cutOver = fleet(FleetSteps.CutOverToGreen, '$.cutover');
  k.onFailure(
    [
      create,
      atCapacity.check,
      attach,
      inTargetGroups.check,
      alarmsAfterGreen,
      scale,
      alarmsAfterBake,
      cutOver,
    ],
    discard,
  );

  // Retire blue: forward only. A RetireBlue that fails still commits green, then reports RolloutFailed.
  const blueRetired = k.pollUntil('BlueRetiredLoop', {
    check: { fn: props.fleetFunction, step: FleetSteps.RetireBlue, resultPath: '$.retire' },
    maxChecks: props.maxChecks,
    until: k.when.isTrue('$.retire.deleted'),
    choice: 'BlueRetired?',
    wait: 'WaitForBlueDrain',
  });
  const commitGreen = k.lambdaStep({
    fn: props.recordFunction,
    step: RecordSteps.CommitRollout,
    name: 'CommitGreenFleet',
    resultPath: '$.report',
  });
  const reportBlueLeft = k.lambdaStep({
    fn: props.recordFunction,
    step: RecordSteps.ReportOutcome,
    name: 'ReportBlueNotRetired',
    resultPath: '$.report',
    payload: { outcome: DetailTypes.RolloutFailed },
  });
  k.catch(commitGreen, reportBlueLeft, { resultPath: '$.commitError' });
  k.catch(reportBlueLeft, props.failed, { resultPath: '$.reportError' });
  k.onFailure(
    [blueRetired.check],
    replaced('GreenReplacedFleetAnyway').next(commitGreen).next(reportBlueLeft).next(props.failed),
  );

  create.next(atCapacity);
  scale.next(atCapacity);
  atCapacity.next(warmUp).next(attach).next(inTargetGroups).next(alarmsAfterGreen);
  alarmsAfterGreen.next(
    k
      .choice('GreenBelowFleetCapacity?')
      .when(k.when.lessThan('$.green.desired', '$.fleetState.desiredCapacity'), scale)
      .otherwise(bake),
  );
  bake
    .next(alarmsAfterBake)
    .next(cutOver)
    .next(blueRetired)
    .next(replaced('GreenReplacedFleet'))
    .next(props.commit);
  return create;
}
