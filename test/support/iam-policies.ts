/**
 * The IAM policies of the synthesized control plane, ready to simulate: for every Phoenix role (the
 * role of each function, found by its `phoenix:handler` metadata, and the role of each state
 * machine) its identity policies (the role's inline `Policies`, and every AWS::IAM::Policy or
 * AWS::IAM::ManagedPolicy attached to it), with every intrinsic resolved to concrete ARNs in a fixed
 * account and region; and the Phoenix bus's resource policy, if the template has one.
 *
 * Reads only the synthesized template (not the constructs that made it), so it does not care how
 * lib/ is laid out. Names resolve exactly as the local runtime resolves them (local/template.ts),
 * so the ARNs the handlers use in the tests are the ARNs the policies name here.
 *
 * `simulate` evaluates one request with @cloud-copilot/iam-simulate (it knows each action's
 * resource types and condition keys, and drops context keys an action does not take).
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { ArnPrincipal } from 'aws-cdk-lib/aws-iam';
import type { PhoenixControlPlaneProps } from '../../lib/control-plane-props';
import {
  type CfnTemplate,
  physicalName,
  resolveTemplate,
  synthesizeControlPlane,
  type LocalModel,
} from '../../local/template';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const PARTITION = 'aws';

/** The metadata key that binds a function to `lambdas/<handler>.ts`. */
const HANDLER_METADATA = 'phoenix:handler';

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Record<string, unknown>[];
}

export interface NamedPolicy {
  /** The policy's logical id (or `<role>/<PolicyName>` for an inline policy). */
  readonly name: string;
  readonly policy: PolicyDocument;
}

export interface PhoenixRole {
  readonly logicalId: string;
  readonly arn: string;
  /**
   * How tests name the role: `function:<handler>`, or `state-machine:<logical id>` without its
   * `ControlPlane` prefix and hash suffix (`state-machine:RolloutStateMachine`).
   */
  readonly id: string;
  readonly kind: 'function' | 'state-machine';
  /** For a function role: the `phoenix:handler` name. */
  readonly handler?: string;
  readonly policies: readonly NamedPolicy[];
}

export interface PhoenixBus {
  readonly name: string;
  readonly arn: string;
  /** The bus's resource policy (EventBus `Policy`, and every AWS::Events::EventBusPolicy of it). */
  readonly policy?: PolicyDocument;
}

export interface PhoenixPolicies {
  readonly roles: readonly PhoenixRole[];
  readonly bus: PhoenixBus;
  /** The role of the function with this `phoenix:handler` name (throws when there is none). */
  roleOfHandler(handler: string): PhoenixRole;
}

let cached: PhoenixPolicies | undefined;
let cachedWorld: PhoenixPolicies | undefined;

/** The policies of `PhoenixStack` as synthesized by default (cached: one synth per test file). */
export function phoenixPolicies(template?: CfnTemplate): PhoenixPolicies {
  if (template !== undefined) return extractPolicies(template);
  cached ??= extractPolicies(synthesizeControlPlane().template);
  return cached;
}

/** An operator of the test world's deployment (`WORLD_DEPLOYMENT`). */
export const WORLD_OPERATOR_ARN = `arn:${PARTITION}:iam::${ACCOUNT}:role/phoenix-operator`;
/** A principal tag that makes its bearer an operator in the test world's deployment. */
export const WORLD_OPERATOR_TAG = { key: 'phoenix-operator', value: 'true' } as const;

/**
 * The deployment the integration and e2e tests' world stands for: what it configures beyond the
 * defaults (the golden-AMI parameters its fleets follow, `/corp/golden/...`; its operators). The
 * must-allow check simulates the recorded calls against this deployment's policies.
 */
export const WORLD_DEPLOYMENT: PhoenixControlPlaneProps = {
  goldenImageParameterPrefixes: ['/corp/golden/'],
  operatorPrincipals: [new ArnPrincipal(WORLD_OPERATOR_ARN)],
  operatorPrincipalTag: WORLD_OPERATOR_TAG,
  // The promoted channels of test/e2e/promotion.test.ts and test/integration/promotion.test.ts.
  channels: {
    prod: { promoteFrom: 'staging' },
    'canary-p': { promoteFrom: 'canary-s', approval: true },
    'gate-p': { promoteFrom: 'gate-s' },
    'broken-p': { promoteFrom: 'broken-s' },
    ...Object.fromEntries(
      ['p2', 'p20', 'ap', 'al'].map((p) => [`${p}-prod`, { promoteFrom: `${p}-staging` }]),
    ),
    // The validating channels of test/e2e/validation.test.ts and test/integration/validate-steps.test.ts.
    vchan: { validation: { group: 'vchan-validation', testDocument: 'vchan-smoke' } },
    ...Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [
        `vch${i + 1}`,
        { validation: { group: `vch${i + 1}-validation`, testFunction: 'web-test' } },
      ]),
    ),
  },
};

/** The policies of `PhoenixStack` with `WORLD_DEPLOYMENT` (cached). */
export function worldPolicies(): PhoenixPolicies {
  cachedWorld ??= extractPolicies(
    synthesizeControlPlane({ stackProps: { controlPlane: WORLD_DEPLOYMENT } }).template,
  );
  return cachedWorld;
}

export function extractPolicies(template: CfnTemplate): PhoenixPolicies {
  const model = resolveTemplate(template, { region: REGION, account: ACCOUNT, endpoint: 'http://unused' });
  const resources = template.Resources;
  const resolve = policyResolver(template, model);

  // Roles of functions (by phoenix:handler) and of state machines.
  const owners = new Map<string, { kind: 'function' | 'state-machine'; handler?: string; owner: string }>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    const roleRef =
      resource.Type === 'AWS::Lambda::Function'
        ? resource.Properties?.Role
        : resource.Type === 'AWS::StepFunctions::StateMachine'
          ? resource.Properties?.RoleArn
          : undefined;
    if (roleRef === undefined) continue;
    const roleId = referencedLogicalId(roleRef);
    if (roleId === undefined) throw new Error(`${logicalId}: its role is not a role of the template`);
    if (resource.Type === 'AWS::Lambda::Function') {
      const handler = resource.Metadata?.[HANDLER_METADATA];
      if (typeof handler !== 'string') continue; // not a Phoenix handler (e.g. a CDK custom resource)
      owners.set(roleId, { kind: 'function', handler, owner: logicalId });
    } else {
      owners.set(roleId, { kind: 'state-machine', owner: logicalId });
    }
  }

  const roles: PhoenixRole[] = [];
  for (const [roleId, owner] of owners) {
    const role = resources[roleId];
    if (role?.Type !== 'AWS::IAM::Role')
      throw new Error(`${owner.owner}: role ${roleId} is not an AWS::IAM::Role`);
    if (
      role.Properties?.ManagedPolicyArns !== undefined ||
      role.Properties?.PermissionsBoundary !== undefined
    ) {
      throw new Error(
        `${roleId}: managed policy ARNs and permission boundaries are not simulated here; add them to test/support/iam-policies.ts`,
      );
    }
    const policies: NamedPolicy[] = [];
    const inline = (role.Properties?.Policies ?? []) as { PolicyName: unknown; PolicyDocument: unknown }[];
    for (const p of inline) {
      policies.push({
        name: `${roleId}/${String(resolve(p.PolicyName, roleId))}`,
        policy: resolve(p.PolicyDocument, roleId) as PolicyDocument,
      });
    }
    for (const [policyId, resource] of Object.entries(resources)) {
      if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
      const attached = (resource.Properties?.Roles ?? []) as unknown[];
      if (!attached.some((r) => referencedLogicalId(r) === roleId)) continue;
      policies.push({
        name: policyId,
        policy: resolve(resource.Properties?.PolicyDocument, policyId) as PolicyDocument,
      });
    }
    const arn = `arn:${PARTITION}:iam::${ACCOUNT}:role/${String(model.resolve({ Ref: roleId }, roleId))}`;
    roles.push({
      logicalId: roleId,
      arn,
      id:
        owner.kind === 'function'
          ? `function:${owner.handler}`
          : `state-machine:${owner.owner.replace(/^ControlPlane/, '').replace(/[0-9A-F]{8}$/, '')}`,
      kind: owner.kind,
      ...(owner.handler !== undefined ? { handler: owner.handler } : {}),
      policies,
    });
  }
  roles.sort((a, b) => a.id.localeCompare(b.id));

  const bus = model.eventBuses.find((b) => b.name !== 'default');
  if (bus === undefined) throw new Error('The template has no Phoenix event bus');
  const statements: Record<string, unknown>[] = [];
  const busResource = resources[bus.logicalId];
  if (busResource?.Properties?.Policy !== undefined) {
    const policy = resolve(busResource.Properties.Policy, bus.logicalId) as PolicyDocument;
    statements.push(...policy.Statement);
  }
  for (const [policyId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Events::EventBusPolicy') continue;
    const props = resolve(resource.Properties ?? {}, policyId) as Record<string, unknown>;
    const busName = props.EventBusName ?? 'default';
    if (busName !== bus.name && busName !== bus.arn) continue;
    if (props.Statement !== undefined) statements.push(props.Statement as Record<string, unknown>);
    else {
      throw new Error(
        `${policyId}: the legacy Action/Principal form of AWS::Events::EventBusPolicy is not simulated`,
      );
    }
  }

  return {
    roles,
    bus: {
      name: bus.name,
      arn: bus.arn,
      ...(statements.length > 0 ? { policy: { Version: '2012-10-17', Statement: statements } } : {}),
    },
    roleOfHandler(handler: string): PhoenixRole {
      const role = roles.find((r) => r.handler === handler);
      if (role === undefined) {
        throw new Error(
          `No Phoenix function has handler ${JSON.stringify(handler)} (handlers: ${roles
            .flatMap((r) => r.handler ?? [])
            .join(', ')})`,
        );
      }
      return role;
    },
  };
}

/** `{Ref: X}` or `{Fn::GetAtt: [X, ...]}` → X. */
function referencedLogicalId(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as { Ref?: unknown; 'Fn::GetAtt'?: unknown };
  if (typeof v.Ref === 'string') return v.Ref;
  const att = v['Fn::GetAtt'];
  if (Array.isArray(att) && typeof att[0] === 'string') return att[0];
  if (typeof att === 'string') return att.split('.')[0];
  return undefined;
}

/**
 * The local runtime's resolver, plus the attributes policies name that the runtime never needs
 * (a log group's ARN). Fn::Join is resolved here so that such an attribute may sit inside one.
 */
function policyResolver(
  template: CfnTemplate,
  model: LocalModel,
): (value: unknown, where: string) => unknown {
  const resolve = (value: unknown, where: string): unknown => {
    if (Array.isArray(value)) return value.map((item, i) => resolve(item, `${where}[${i}]`));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, argument] = entries[0]!;
      if (key === 'Fn::GetAtt') {
        const [logicalId, attribute] = Array.isArray(argument)
          ? (argument as string[])
          : String(argument).split('.');
        const resource = template.Resources[String(logicalId)];
        if (resource?.Type === 'AWS::Logs::LogGroup' && attribute === 'Arn') {
          const explicit = resource.Properties?.LogGroupName;
          const name =
            explicit !== undefined ? String(resolve(explicit, where)) : physicalName(String(logicalId), 512);
          return `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${name}:*`;
        }
        return model.resolve(value, where);
      }
      if (key === 'Fn::Join') {
        const [delimiter, list] = argument as [string, unknown[]];
        return (resolve(list, where) as unknown[]).map(String).join(delimiter);
      }
      if (key.startsWith('Fn::') || key === 'Ref') return model.resolve(value, where);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v, `${where}.${k}`)]));
  };
  return resolve;
}

// ---- simulation ---------------------------------------------------------------------------------

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

export interface IamRequest {
  readonly action: string;
  readonly resource: string;
  /** Condition keys of the request (`aws:ResourceTag/phoenix:fleet`, `aws:TagKeys`, ...). */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

export interface Principal {
  readonly arn: string;
  readonly policies: readonly NamedPolicy[];
}

/**
 * Evaluate `request` made by `principal` (its identity policies), with `resourcePolicy` if the
 * resource has one. `aws:PrincipalArn` and `aws:PrincipalAccount` are set from the principal
 * (the simulator does not derive them). Throws when the simulator rejects the input (an unknown
 * action, an ARN of the wrong resource type, a malformed policy): that is a bug of the test.
 */
export async function simulate(
  principal: Principal,
  request: IamRequest,
  options: { resourcePolicy?: PolicyDocument | undefined } = {},
): Promise<Decision> {
  const contextVariables: Record<string, string | string[]> = {
    'aws:PrincipalArn': principal.arn,
    'aws:PrincipalAccount': ACCOUNT,
  };
  for (const [key, value] of Object.entries(request.context ?? {})) {
    contextVariables[key] = typeof value === 'string' ? value : [...value];
  }
  const simulation: Simulation = {
    request: {
      principal: principal.arn,
      action: request.action,
      resource: { resource: request.resource, accountId: ACCOUNT },
      contextVariables,
    },
    identityPolicies: principal.policies.map((p) => ({ name: p.name, policy: p.policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(options.resourcePolicy !== undefined ? { resourcePolicy: options.resourcePolicy } : {}),
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') {
    throw new Error(
      `The simulator rejected ${request.action} on ${request.resource}: ${result.errors.message} ${JSON.stringify(result.errors)}`,
    );
  }
  return result.overallResult;
}
