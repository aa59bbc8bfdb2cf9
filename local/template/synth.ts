/** Synthesizing `PhoenixStack` for the local runtime. */
import { App } from 'aws-cdk-lib';
import { PhoenixStack, type PhoenixStackProps } from '../../lib/phoenix-stack';
import { LOCAL_STACK_NAME, type CfnTemplate } from './model';

/**
 * Synthesize `PhoenixStack` without bundling the handlers (the local runtime runs their sources
 * in-process). Environment-agnostic, like `cdk synth` without an account: region and account stay
 * pseudo parameters, resolved by `resolveTemplate`.
 */
export function synthesizeControlPlane(options: { stackProps?: PhoenixStackProps } = {}): {
  template: CfnTemplate;
} {
  const app = new App({
    // Skip esbuild bundling: the local runtime runs the handlers' sources.
    context: { 'aws:cdk:bundling-stacks': [] },
    analyticsReporting: false,
    stackTraces: false,
    // CDK's built-in CloudFormation validation (wasm) is ~3 s of every synth; test/infra covers it.
    builtinCloudFormationValidation: false,
  });
  const stack = new PhoenixStack(app, LOCAL_STACK_NAME, options.stackProps ?? {});
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template as CfnTemplate;
  return { template };
}
