/** The outcome archive: a rule on the Phoenix bus writing every outcome into its log group. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_SOURCE } from '../../lambdas/domain/contract';
import { synthPhoenix, type Json, type SynthesizedPhoenix } from './support';

let phoenix: SynthesizedPhoenix;

beforeAll(() => {
  phoenix = synthPhoenix();
});
afterAll(() => phoenix.dispose());

describe('the outcome archive', () => {
  it('a rule on the Phoenix bus for every outcome targets the log group, with a dead-letter queue', () => {
    const archive = phoenix.stack.controlPlane.outcomeArchive;
    const props = phoenix.resources[phoenix.logicalId(archive.rule)]!.Properties as Json;
    expect(props.EventPattern).toStrictEqual({ source: [OUTCOME_SOURCE] });
    expect(props.EventBusName).toStrictEqual({ Ref: phoenix.logicalId(phoenix.stack.controlPlane.eventBus) });
    expect(props.Targets).toHaveLength(1);
    const target = props.Targets[0];
    // A log-group target's ARN has no `:*` and names the archive's log group.
    const arn = JSON.stringify(target.Arn);
    expect(arn).toContain(':log-group:');
    expect(arn).toContain(phoenix.logicalId(archive.logGroup));
    expect(arn).not.toContain(':*');
    expect(target.RoleArn).toBeUndefined();
    const queueId = target.DeadLetterConfig.Arn['Fn::GetAtt'][0] as string;
    expect(queueId).toBe(phoenix.logicalId(archive.deadLetterQueues[0]!));
    expect(target.RetryPolicy).toMatchObject({ MaximumRetryAttempts: 8 });
  });

  it('keeps the log group a year by default, retained, named after the bus', () => {
    const archive = phoenix.stack.controlPlane.outcomeArchive;
    const resource = phoenix.resources[phoenix.logicalId(archive.logGroup)]!;
    expect(resource.Properties).toMatchObject({ RetentionInDays: 365 });
    expect(JSON.stringify(resource.Properties!['LogGroupName'])).toContain('/outcomes');
    expect(resource.DeletionPolicy).toBe('Retain');
  });

  it('lets EventBridge write into the log group for this rule only, through the resource policy', () => {
    const archive = phoenix.stack.controlPlane.outcomeArchive;
    const props = phoenix.resources[phoenix.logicalId(archive.resourcePolicy)]!.Properties as Json;
    const document = JSON.parse(JSON.stringify(phoenix.stack.resolve(props.PolicyDocument)));
    const text = typeof document === 'string' ? document : JSON.stringify(document);
    expect(text).toContain('events.amazonaws.com');
    expect(text).toContain('logs:PutLogEvents');
    expect(text).toContain('logs:CreateLogStream');
    expect(text).toContain('aws:SourceArn');
    expect(text).toContain(phoenix.logicalId(archive.rule));
    expect(text).not.toMatch(/"logs:\*"/);
  });
});
