/** Replace workflow steps (EC2 + Auto Scaling + DynamoDB + EventBridge). */
import { stepHandler } from './powertools';
import { type ReplaceStepRequest, runReplaceStep } from './steps/replace';

export const handler = stepHandler<ReplaceStepRequest>('replace', runReplaceStep);
