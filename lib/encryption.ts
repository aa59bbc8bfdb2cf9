/**
 * The optional customer-managed KMS key (`PhoenixControlPlaneProps.encryptionKey`): what the
 * services that write Phoenix's encrypted resources need on it, through the key's grant methods.
 *
 * The functions' roles get their grants beside the resource they use (`Queue.grantSendMessages`
 * for a dead-letter queue, `PhoenixState.grantTableEncryption` for the table). The two service
 * principals below are written into the key's policy: a key imported with `Key.fromKeyArn` has no
 * policy that CDK can change, so its owner adds these statements (docs/security.md, Encryption).
 */
import { ArnFormat, Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';

/** Which grants each key has received already (one statement per key and purpose). */
const granted = new WeakMap<kms.IKey, Set<string>>();

function once(key: kms.IKey, purpose: string, grant: () => void): void {
  const done = granted.get(key) ?? new Set<string>();
  if (done.has(purpose)) return;
  done.add(purpose);
  granted.set(key, done);
  grant();
}

/**
 * CloudWatch Logs (`logs.<region>.amazonaws.com`) may encrypt and decrypt the log groups of this
 * account and region with `key` (condition `kms:EncryptionContext:aws:logs:arn`). The log groups'
 * own ARNs cannot be named: each log group refers to the key, so the key cannot refer to them.
 */
export function grantLogGroupEncryption(scope: IConstruct, key: kms.IKey): void {
  once(key, 'logs', () => {
    const logGroups = Stack.of(scope).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: '*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const logs = new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`, {
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': logGroups } },
    });
    key.grant(
      logs,
      'kms:Encrypt*',
      'kms:Decrypt*',
      'kms:ReEncrypt*',
      'kms:GenerateDataKey*',
      'kms:Describe*',
    );
  });
}

/**
 * EventBridge (`events.amazonaws.com`) may send to a rule's encrypted dead-letter queue: it needs
 * `kms:GenerateDataKey` and `kms:Decrypt`, for rules of this account and region only (the rules'
 * own ARNs cannot be named: the rule refers to its queue, which refers to the key).
 */
export function grantRuleDeadLetterEncryption(scope: IConstruct, key: kms.IKey): void {
  once(key, 'events', () => {
    const rules = Stack.of(scope).formatArn({ service: 'events', resource: 'rule', resourceName: '*' });
    const events = new iam.ServicePrincipal('events.amazonaws.com', {
      conditions: {
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnLike: { 'aws:SourceArn': rules },
      },
    });
    key.grant(events, 'kms:GenerateDataKey', 'kms:Decrypt');
  });
}
