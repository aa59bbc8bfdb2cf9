/** Validate workflow steps (EC2 + Auto Scaling + SSM + Lambda + DynamoDB + EventBridge + Step Functions). */
import { stepHandler } from './powertools';
import { runValidateStep, type ValidateStepRequest } from './steps/validate';

// The validation group is no fleet: the logger's `fleet` key stays unset.
type Request = ValidateStepRequest & { readonly state: { readonly fleet?: string } };

export const handler = stepHandler<Request>('validate', runValidateStep);
