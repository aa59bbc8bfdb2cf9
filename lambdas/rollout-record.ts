/** Rollout workflow, record steps (DynamoDB + EventBridge). */
import { stepHandler } from './powertools';
import { type RecordStepRequest, runRecordStep } from './steps/record';

export const handler = stepHandler<RecordStepRequest>('rollout-record', runRecordStep);
