/**
 * The control plane's resources, as synthesized by the CDK app, created in the shared emulator
 * (reset first), with process.env set as the functions' environment: what the handlers need to
 * run in a test exactly as they run in the local runtime.
 */
import { inject } from 'vitest';
import { resetEmulator } from '../../local/emulator';
import { mergeFunctionEnvironments } from '../../local/lambda-host';
import { silentLogger } from '../../local/log';
import { provision, type RuleQueue } from '../../local/provision';
import { type LocalModel, resolveTemplate, synthesizeControlPlane } from '../../local/template';

export const REGION = 'us-east-1';

let synthesized: ReturnType<typeof synthesizeControlPlane> | undefined;

export interface FreshControlPlane {
  readonly endpoint: string;
  readonly model: LocalModel;
  /** The queue of each routed rule target (`phoenix-rule-<ruleLogicalId>`), for tests that read them directly. */
  readonly ruleQueues: readonly RuleQueue[];
}

export async function freshControlPlane(): Promise<FreshControlPlane> {
  const endpoint = inject('emulatorEndpoint');
  await resetEmulator(endpoint);
  synthesized ??= synthesizeControlPlane();
  const model = resolveTemplate(synthesized.template, { region: REGION, endpoint });
  const { ruleQueues } = await provision(model, { endpoint, region: REGION, log: silentLogger });
  Object.assign(process.env, mergeFunctionEnvironments(model.functions).shared, {
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: endpoint,
  });
  return { endpoint, model, ruleQueues };
}
