import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { skipCheckov } from '../checkov';
import { Construct } from 'constructs';

/** The fleet table's TTL attribute (epoch seconds): intake's idempotency records expire by it. */
export const INTAKE_RECORD_TTL_ATTRIBUTE = 'expiresAt';

export interface PhoenixStateProps {
  /**
   * Name of the Phoenix event bus (validated by `PhoenixControlPlane`).
   * @default 'phoenix'
   */
  readonly eventBusName?: string;
  /**
   * What happens to the fleet table when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A customer-managed KMS key for the fleet table.
   * @default - the AWS managed key of DynamoDB (`alias/aws/dynamodb`)
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The shared state of the control plane: the Phoenix bus (commands in, outcomes out) and the fleet
 * table. Created in `scope` (construct ids `EventBus` and `Table`): see ./shared.ts.
 */
export class PhoenixState extends Construct {
  /** The Phoenix bus: commands in, outcomes out. */
  public readonly eventBus: events.EventBus;
  /** Fleet records (`pk = FLEET#<name>`) and intake's idempotency records (`EVENT#<event id>`). */
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: PhoenixStateProps = {}) {
    super(scope, id);
    this.eventBus = new events.EventBus(scope, 'EventBus', {
      eventBusName: props.eventBusName ?? 'phoenix',
      description: 'Phoenix: commands in (phoenix.command), outcomes out (phoenix)',
    });
    this.table = new dynamodb.Table(scope, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      // Intake's idempotency records (`EVENT#<event id>`) expire by themselves.
      timeToLiveAttribute: INTAKE_RECORD_TTL_ATTRIBUTE,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(props.encryptionKey
        ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    if (!props.encryptionKey) {
      skipCheckov(this.table, {
        id: 'CKV_AWS_119',
        comment:
          "Encrypted at rest with DynamoDB's AWS managed KMS key (alias/aws/dynamodb); the table holds fleet records and event ids, no secrets. Give the control plane's encryptionKey to use a customer-managed key.",
      });
    }
  }

  /**
   * When the table has a customer-managed key: `grantee` may use it through DynamoDB only
   * (`kms:ViaService`), and so only on the items its own table statements reach. Nothing otherwise.
   */
  public grantTableEncryption(grantee: iam.IGrantable): void {
    const key = this.table.encryptionKey;
    if (!key) return;
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'],
      resourceArns: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Aws.REGION}.amazonaws.com` } },
    });
  }

  /** `actions` on fleet records only (`FLEET#…`: records, locks, slots), never on intake's `EVENT#` items. */
  public grantFleetRecords(grantee: iam.IGrantable, ...actions: string[]): void {
    this.grantItems(grantee, 'FLEET#*', actions);
  }

  /** `actions` on channel records only (`CHANNEL#…`: promotions, approvals), never on fleet records. */
  public grantChannelRecords(grantee: iam.IGrantable, ...actions: string[]): void {
    this.grantItems(grantee, 'CHANNEL#*', actions);
  }

  /** `actions` on intake's idempotency records only (`EVENT#…`), never on fleet records. */
  public grantIntakeRecords(grantee: iam.IGrantable, ...actions: string[]): void {
    this.grantItems(grantee, 'EVENT#*', actions);
  }

  /** `actions` on image records only (`IMAGE#…`: quarantine, releases, validation). */
  public grantImageRecords(grantee: iam.IGrantable, ...actions: string[]): void {
    this.grantItems(grantee, 'IMAGE#*', actions);
  }

  private grantItems(grantee: iam.IGrantable, leadingKeys: string, actions: string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions,
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [leadingKeys] } },
      }),
    );
  }
}
