/** Rollout workflow, fleet steps (EC2 + Auto Scaling). */
import { stepHandler } from './powertools';
import { type FleetStepRequest, runFleetStep } from './steps/fleet';

export const handler = stepHandler<FleetStepRequest>('rollout-fleet', runFleetStep);
