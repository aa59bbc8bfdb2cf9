/**
 * The published samples of the events that ask for a replacement, adapted to an instance: their
 * placeholder instance ids (and instance ARNs) rewritten, nothing else changed. Used by the
 * end-to-end replacement tests and the benchmark.
 */
import { awsEvent, derive } from './fixtures';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

export const instanceArn = (id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${id}`;

/** CloudWatch Alarm State Change of a StatusCheckFailed alarm (dimension InstanceId). */
export function statusCheckAlarm(id: string) {
  const sample = awsEvent('aws.cloudwatch', 'alarm-state-change-status-check-failed');
  const metrics = structuredClone(sample['detail'].configuration.metrics);
  metrics[0].metricStat.metric.dimensions.InstanceId = id;
  return derive(sample, { configuration: { ...sample['detail'].configuration, metrics } });
}

/** EC2 Spot Instance Interruption Warning (`detail.instance-id`, and the instance ARN in resources). */
export function spotInterruption(id: string) {
  const sample = awsEvent('aws.ec2', 'spot-interruption-warning');
  return derive(sample, { 'instance-id': id }, { resources: [instanceArn(id)] });
}

/** CloudTrail SSM StartSession (`requestParameters.target`). */
export function startSession(id: string) {
  return derive(awsEvent('aws.ssm', 'cloudtrail-start-session'), { requestParameters: { target: id } });
}

/** Config Configuration Item Change, UPDATE of an instance's type. */
export function configDrift(id: string) {
  const sample = awsEvent('aws.config', 'configuration-item-change-ec2-instance-update');
  const item = structuredClone(sample['detail'].configurationItem);
  item.resourceId = id;
  item.ARN = instanceArn(id);
  item.configuration.instanceId = id;
  return derive(sample, { configurationItem: item }, { resources: [instanceArn(id)] });
}

/** Config Rules Compliance Change to NON_COMPLIANT of an instance. */
export function nonCompliant(id: string) {
  const sample = awsEvent('aws.config', 'rules-compliance-change-ec2-instance-noncompliant');
  const result = structuredClone(sample['detail'].newEvaluationResult);
  result.evaluationResultIdentifier.evaluationResultQualifier.resourceId = id;
  return derive(sample, { resourceId: id, newEvaluationResult: result });
}

/** A PutEvents entry for the default bus, as the event's AWS source would put it. */
export function entryOf(event: Record<string, any>) {
  return {
    Source: event['source'] as string,
    DetailType: event['detail-type'] as string,
    Detail: JSON.stringify(event['detail']),
    Resources: (event['resources'] ?? []) as string[],
  };
}
