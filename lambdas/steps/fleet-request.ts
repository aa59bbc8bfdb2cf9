/**
 * The request of a Rollout fleet step (rolling and blue-green alike), and what every fleet step
 * needs of it. Its own module, so that the step modules need not import one another.
 */
import { ConfigurationError } from '../domain/errors';
import type { FleetState, WorkflowState } from '../domain/rollout';
import type { CheckPacing } from '../domain/pacing';
import type { FleetStep } from '../domain/steps';

export interface FleetStepRequest {
  readonly step: FleetStep;
  readonly execution: string;
  readonly state: WorkflowState;
  readonly maxChecks?: number;
  /** CheckBatchHealth: the pace of the batch's checks (see domain/pacing.ts); absent: every poll interval. */
  readonly pacing?: CheckPacing;
  /** CheckAlarms: when the check runs (`start` rejects, `batch` and `bake` roll back). */
  readonly phase?: 'start' | 'batch' | 'bake';
  /** ReleaseFleet: false on a failure path (only resume the processes). */
  readonly restoreLimits?: boolean;
  /**
   * ReleaseFleet at a safe point (superseded, paused): point a rolling fleet's group back at the
   * launch template version of its desired image, so that the group launches what the record says
   * (the rollout did not commit); the reconcile sweep then replaces the instances it rolled.
   */
  readonly restoreLaunchTemplate?: boolean;
}

/** The fleet as ValidateImage found it, or ConfigurationError when ValidateImage did not run. */
export function requireFleetState(state: WorkflowState): FleetState {
  if (!state.fleetState)
    throw new ConfigurationError('workflow state has no fleetState: ValidateImage did not run');
  return state.fleetState;
}
