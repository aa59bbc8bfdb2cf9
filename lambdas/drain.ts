/** Drain steps (ELBv2 + SSM + Auto Scaling + EventBridge): Replace workflow and termination lifecycle hook. */
import { stepHandler } from './powertools';
import { type DrainStepRequest, runDrainStep } from './steps/drain';

export const handler = stepHandler<DrainStepRequest>('drain', runDrainStep);
