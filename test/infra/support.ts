import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { PhoenixStack } from '../../lib';

/**
 * Template JSON: untyped by nature. Tests index into it freely and let the assertions check it.
 */

export type Json = any;

/** A resource of a synthesized template, as the assertions see it. */
export interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, Json>;
  readonly Metadata?: Record<string, Json>;
  readonly DependsOn?: string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

export interface SynthesizedPhoenix {
  readonly app: App;
  readonly stack: PhoenixStack;
  readonly template: Template;
  /** All resources by logical id. */
  readonly resources: Record<string, CfnResourceJson>;
  /** Removes the cloud assembly (bundles included) from the temporary directory. */
  dispose(): void;
  /** The logical id of a construct's CloudFormation resource (or of the resource itself). */
  logicalId(construct: IConstruct): string;
}

export interface SynthOptions {
  /**
   * Bundle the handlers with esbuild. Only the tests about the bundles need it; without it the
   * functions get a placeholder asset and the rest of the template is the same.
   * @default false
   */
  readonly bundle?: boolean;
  /** Called with the app before synthesis (e.g. to add the compliance checks). */
  readonly configure?: (app: App) => void;
}

/**
 * The default synthesis, shared by the files of one worker (the unit tier does not isolate files):
 * read-only for the tests, removed when the worker exits.
 */
let sharedDefault: SynthesizedPhoenix | undefined;

/**
 * Builds the Phoenix stack as `bin/app.ts` does (environment-agnostic) and synthesizes it: once per
 * file, in `beforeAll` — and with the default options once per worker (the result is shared, so a
 * test must not add to its app or stack; `dispose` of the shared one does nothing).
 */
export function synthPhoenix(options: SynthOptions = {}): SynthesizedPhoenix {
  if (options.bundle === undefined && options.configure === undefined) {
    if (sharedDefault === undefined) {
      const synthesized = synthesize(options);
      process.once('exit', () => synthesized.dispose());
      sharedDefault = { ...synthesized, dispose: () => undefined };
    }
    return sharedDefault;
  }
  return synthesize(options);
}

function synthesize(options: SynthOptions): SynthesizedPhoenix {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-infra-'));
  const app = new App({
    outdir,
    context: options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] },
  });
  const stack = new PhoenixStack(app, 'Phoenix');
  options.configure?.(app);
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, CfnResourceJson>;
  return {
    app,
    stack,
    template,
    resources,
    dispose: () => fs.rmSync(outdir, { recursive: true, force: true }),
    logicalId(construct) {
      const element = CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild;
      if (!element || !CfnElement.isCfnElement(element)) {
        throw new Error(`${construct.node.path} has no CloudFormation resource`);
      }
      return Stack.of(element).resolve(element.logicalId) as string;
    },
  };
}

/** Every statement of every IAM policy of the template (inline role policies included), with its policy's logical id. */
export function policyStatements(
  resources: Record<string, CfnResourceJson>,
): { policyId: string; roles: unknown[]; statement: Record<string, Json> }[] {
  const out: { policyId: string; roles: unknown[]; statement: Record<string, Json> }[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      for (const statement of props.PolicyDocument?.Statement ?? []) {
        out.push({ policyId: id, roles: props.Roles ?? [], statement });
      }
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of props.Policies ?? []) {
        for (const statement of policy.PolicyDocument?.Statement ?? []) {
          out.push({ policyId: id, roles: [{ Ref: id }], statement });
        }
      }
    }
  }
  return out;
}

/** The Allow statements that apply to a role, from whichever policy of the template carries them. */
export function allowStatementsOf(phoenix: SynthesizedPhoenix, role: IConstruct): Record<string, Json>[] {
  const roleRef = JSON.stringify({ Ref: phoenix.logicalId(role) });
  return policyStatements(phoenix.resources)
    .filter(({ roles }) => roles.some((r) => JSON.stringify(r) === roleRef))
    .map(({ statement }) => statement)
    .filter((s) => s.Effect === 'Allow');
}

/** A value that may be one or many, as many. */
export function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
