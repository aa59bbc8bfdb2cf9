import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import {
  CHANNEL_PARAMETER_PREFIX,
  COMMAND_SOURCE,
  OUTCOME_SOURCE,
  Tags,
} from '../../lambdas/domain/contract';
import type { PhoenixState } from './state';

/** A principal tag that makes its bearer an operator (e.g. `{ key: 'phoenix-operator', value: 'true' }`). */
export interface OperatorPrincipalTag {
  readonly key: string;
  readonly value: string;
}

/** Who operates Phoenix: puts commands on its bus and publishes images into its channels. */
export interface OperatorProps {
  /**
   * The principals that may put commands (`phoenix.command`) on the Phoenix bus and publish
   * through the channel parameters and the AMI tag `phoenix:channel`: roles, users, or
   * `iam.ArnPrincipal` (whose ARN may carry IAM wildcards, e.g. an IAM Identity Center role
   * `arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PhoenixOperator_*`).
   * Matched by `aws:PrincipalArn` (an assumed-role session counts as its role). They still need
   * `events:PutEvents` on the bus in their own identity policy.
   * @default - none (and, unless `operatorPrincipalTag` names some, nobody may put commands)
   */
  readonly operatorPrincipals?: readonly iam.IPrincipal[];
  /**
   * Principals carrying this tag (`aws:PrincipalTag`) are operators too.
   * @default - none
   */
  readonly operatorPrincipalTag?: OperatorPrincipalTag;
}

export interface CommandAuthorizationProps extends OperatorProps {
  /** The Phoenix bus. */
  readonly state: PhoenixState;
  /** Phoenix's own roles: the only principals that may put outcomes (`source: phoenix`). */
  readonly ownRoles: readonly iam.IRole[];
}

/**
 * Commands are authorized: the Phoenix bus's resource policy denies `phoenix.command` events to
 * every principal but the operators (none by default), and `phoenix` outcomes to every principal
 * but Phoenix's own roles, whatever their identity policies allow. And the same choice for the
 * other two ways to publish an image (the channel parameter, the AMI tag `phoenix:channel`), which
 * IAM can only refuse on the caller's side: `publishGuard`, a managed policy to attach to the
 * account's other roles, and `publishGuardScp()`, the same statements as an SCP.
 * Resources in `scope`: see ./shared.ts.
 */
export class CommandAuthorization extends Construct {
  /** `aws:PrincipalArn` patterns of the operators. */
  public readonly operatorArns: readonly string[];
  /**
   * Denies, to every principal but the operators, what publishes an image: ssm:PutParameter and
   * ssm:DeleteParameter on `/phoenix/channels/*`, and ec2:CreateTags / ec2:DeleteTags of the key
   * `phoenix:channel`. Attach it to the account's non-operator roles (it grants nothing).
   */
  public readonly publishGuard: iam.ManagedPolicy;
  private readonly guardStatements: iam.PolicyStatement[];

  constructor(scope: Construct, id: string, props: CommandAuthorizationProps) {
    super(scope, id);
    this.operatorArns = (props.operatorPrincipals ?? []).map(principalArn);
    const notAnOperator = notOperatorConditions(this.operatorArns, props.operatorPrincipalTag);
    const bus = props.state.eventBus;
    bus.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyOperatorsPutCommands',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [bus.eventBusArn],
        conditions: { 'ForAnyValue:StringEquals': { 'events:source': [COMMAND_SOURCE] }, ...notAnOperator },
      }),
    );
    bus.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyPhoenixPutsOutcomes',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [bus.eventBusArn],
        conditions: {
          'ForAnyValue:StringEquals': { 'events:source': [OUTCOME_SOURCE] },
          ArnNotLike: { 'aws:PrincipalArn': props.ownRoles.map((role) => role.roleArn) },
        },
      }),
    );

    const stack = Stack.of(scope);
    this.guardStatements = [
      new iam.PolicyStatement({
        sid: 'OnlyOperatorsWriteChannelParameters',
        effect: iam.Effect.DENY,
        actions: [
          'ssm:PutParameter',
          'ssm:DeleteParameter',
          'ssm:DeleteParameters',
          'ssm:LabelParameterVersion',
        ],
        resources: [
          stack.formatArn({
            service: 'ssm',
            resource: 'parameter',
            resourceName: `${CHANNEL_PARAMETER_PREFIX.replace(/^\//, '')}*`,
          }),
        ],
        conditions: notAnOperator,
      }),
      new iam.PolicyStatement({
        sid: 'OnlyOperatorsTagChannels',
        effect: iam.Effect.DENY,
        actions: ['ec2:CreateTags', 'ec2:DeleteTags'],
        resources: ['*'],
        conditions: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': [Tags.channel] }, ...notAnOperator },
      }),
    ];
    this.publishGuard = new iam.ManagedPolicy(scope, 'PublishGuard', {
      description:
        'Phoenix: only operators may publish an image (channel parameters /phoenix/channels/*, the AMI tag phoenix:channel). Attach to non-operator roles.',
      statements: this.guardStatements,
    });
  }

  /** The publish guard's statements as a service control policy (JSON, tokens resolved by the stack). */
  public publishGuardScp(): string {
    return Stack.of(this).toJsonString({
      Version: '2012-10-17',
      Statement: this.guardStatements.map((s) => s.toStatementJson() as unknown),
    });
  }
}

/** The conditions under which a principal is not an operator (all must hold: IAM ANDs condition keys). */
function notOperatorConditions(
  operatorArns: readonly string[],
  tag: OperatorPrincipalTag | undefined,
): Record<string, Record<string, string | string[]>> {
  return {
    ...(operatorArns.length > 0 ? { ArnNotLike: { 'aws:PrincipalArn': [...operatorArns] } } : {}),
    ...(tag !== undefined ? { StringNotEquals: { [`aws:PrincipalTag/${tag.key}`]: tag.value } } : {}),
  };
}

/** The ARN `aws:PrincipalArn` carries for this principal. */
function principalArn(principal: iam.IPrincipal): string {
  if (principal instanceof iam.ArnPrincipal) return principal.arn;
  const withArn = principal as Partial<{ roleArn: string; userArn: string }>;
  if (typeof withArn.roleArn === 'string') return withArn.roleArn;
  if (typeof withArn.userArn === 'string') return withArn.userArn;
  throw new Error(
    `operatorPrincipals: a principal with an ARN (a role, a user or an iam.ArnPrincipal) is needed, got ${JSON.stringify(principal.policyFragment.principalJson)}`,
  );
}
