/**
 * Rollout workflow, fleet steps (EC2 + Auto Scaling): the dispatch from the workflow's step name to
 * the step (shared ones in steps/fleet.ts, rolling in steps/rolling.ts, blue-green in
 * steps/blue-green.ts), wrapped with the Powertools middlewares.
 */
import { ConfigurationError } from './domain/errors';
import { FleetSteps, type FleetStep } from './domain/steps';
import { stepHandler } from './powertools';
import * as blueGreen from './steps/blue-green';
import * as fleet from './steps/fleet';
import type { FleetStepRequest } from './steps/fleet-request';
import * as rolling from './steps/rolling';

const steps: Record<FleetStep, (request: FleetStepRequest) => Promise<unknown>> = {
  [FleetSteps.ValidateImage]: fleet.validateImage,
  [FleetSteps.ReconcileLaunchTemplate]: rolling.reconcileLaunchTemplate,
  [FleetSteps.LaunchBatch]: rolling.launchBatch,
  [FleetSteps.CheckBatchHealth]: rolling.checkBatchHealth,
  [FleetSteps.RetireBatch]: rolling.retireBatch,
  [FleetSteps.CheckAlarms]: fleet.checkAlarms,
  [FleetSteps.StartRollback]: rolling.startRollback,
  [FleetSteps.CheckRollbackCapacity]: rolling.checkRollbackCapacity,
  [FleetSteps.FinishRollback]: rolling.finishRollback,
  [FleetSteps.CreateGreenGroup]: blueGreen.createGreenGroup,
  [FleetSteps.CheckGreenHealth]: blueGreen.checkGreenHealth,
  [FleetSteps.AttachGreenTargetGroups]: blueGreen.attachGreenTargetGroups,
  [FleetSteps.ScaleGreenGroup]: blueGreen.scaleGreenGroup,
  [FleetSteps.CutOverToGreen]: blueGreen.cutOverToGreen,
  [FleetSteps.RetireBlue]: blueGreen.retireBlue,
  [FleetSteps.DiscardGreen]: blueGreen.discardGreen,
  [FleetSteps.ReadImage]: fleet.readImage,
  [FleetSteps.SuspendScalingProcesses]: fleet.suspendScalingProcesses,
  [FleetSteps.ReleaseFleet]: fleet.releaseFleet,
  [FleetSteps.QuarantineImage]: fleet.quarantineImage,
};

export async function runFleetStep(request: FleetStepRequest): Promise<unknown> {
  const run = steps[request.step];
  if (!run) throw new ConfigurationError(`unknown fleet step ${JSON.stringify(request.step)}`);
  return run(request);
}

export const handler = stepHandler<FleetStepRequest>('rollout-fleet', runFleetStep);
