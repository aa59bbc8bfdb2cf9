/**
 * The event-source catalog's rules, checked both ways by the emulator's own pattern engine: every
 * real published AWS sample under test/fixtures/events (and a few twins derived from them, in code)
 * is put on the emulator's EventBridge, and the rule queues tell which rules took it. Each event
 * must reach exactly the rules of the expectation table below: the ones it is meant for, and no
 * other (an empty set is an expectation too).
 *
 * The rules are those of the synthesized stack, created in the emulator by the local runtime's
 * provisioning (one SQS queue per rule target, `phoenix-rule-<ruleLogicalId>`). The router is not
 * run: the queues are read directly.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_SOURCE, DetailTypes } from '../../lambdas/domain/contract';
import { EVENT_SOURCES, HEALTH_EVENT_CAUSES } from '../../lambdas/domain/sources';
import { PhoenixStack } from '../../lib';
import { emulatorClientConfig, type RuleQueue } from '../../local/provision';
import { LOCAL_STACK_NAME } from '../../local/template';
import { freshControlPlane, REGION } from '../support/control-plane';
import { awsEvent, derive, FIXTURES } from '../support/fixtures';

/** A catalog entry's `ruleId`. */
type RuleId = string;

/**
 * Which rules each fixture (`<source>/<variant>`) must reach. Every file under test/fixtures/events
 * must be listed here, and nothing else.
 */
const EXPECTED: Readonly<Record<string, readonly RuleId[]>> = {
  // Auto Scaling's own activity and lifecycle notices: Phoenix drives these, it does not react to them.
  'aws.autoscaling/instance-refresh-succeeded': [],
  'aws.autoscaling/launch-lifecycle-action': [],
  'aws.autoscaling/launch-successful': [],
  'aws.autoscaling/launch-unsuccessful': [],
  'aws.autoscaling/terminate-lifecycle-action': [],
  'aws.autoscaling/terminate-successful': [],
  // Every alarm that goes to ALARM reaches AlarmRule, whatever its metric (CPU, anomaly band,
  // metric math, composite): by design, since the metric sits in an array of objects the emulator
  // cannot match; normalization keeps status-check alarms of one instance and designated health alarms.
  'aws.cloudwatch/alarm-state-change-anomaly-detection': ['AlarmRule'],
  'aws.cloudwatch/alarm-state-change-composite-suppressor': ['AlarmRule'],
  'aws.cloudwatch/alarm-state-change-cpu-utilization': ['AlarmRule'],
  'aws.cloudwatch/alarm-state-change-metric-math': ['AlarmRule'],
  'aws.cloudwatch/alarm-state-change-status-check-failed': ['AlarmRule'],
  // Config: only an UPDATE of an EC2 instance (CREATE is a new instance, not drift) ...
  'aws.config/configuration-item-change-ec2-instance-create': [],
  'aws.config/configuration-item-change-ec2-instance-update': ['ConfigItemChangeRule'],
  // ... an oversized UPDATE of an EC2 instance (this one is of an SSM inventory: none) ...
  'aws.config/oversized-configuration-item-change-ssm-inventory': [],
  // ... and an EC2 instance found NON_COMPLIANT (this Lambda one went COMPLIANT: none).
  'aws.config/rules-compliance-change-ec2-instance-noncompliant': ['ConfigComplianceRule'],
  'aws.config/rules-compliance-change-lambda': [],
  // EC2 Instance Connect: the published record's eventName is "SendSSHPublicKey " (trailing space),
  // which the rule's `prefix` match takes.
  'aws.ec2-instance-connect/cloudtrail-send-ssh-public-key': ['ShellAccessRule'],
  'aws.ec2/ami-state-change-available': ['AmiAvailableRule'],
  // Every CreateTags reaches AmiChannelTagRule (tag keys and resource ids sit in arrays of
  // objects); normalization keeps phoenix:channel tags put on AMIs.
  'aws.ec2/cloudtrail-createtags-ami': ['AmiChannelTagRule'],
  'aws.ec2/cloudtrail-createtags-security-group': ['AmiChannelTagRule'],
  'aws.ec2/cloudtrail-modify-instance-attribute': ['InPlaceChangeRule'],
  'aws.ec2/instance-state-change-pending-no-version': [],
  'aws.ec2/instance-state-change': [],
  'aws.ec2/rebalance-recommendation': ['InterruptionRule'],
  'aws.ec2/spot-interruption-warning': ['InterruptionRule'],
  'aws.health/ec2-instance-retirement-scheduled': ['HealthRule'],
  'aws.health/ec2-instance-store-drive-performance-degraded-backup': ['HealthRule'],
  'aws.health/ec2-instance-store-drive-performance-degraded': ['HealthRule'],
  // Capacity-reservation notices and public operational issues: EC2, but no instance to replace.
  'aws.health/ec2-odcr-underutilization-notification-summary': [],
  'aws.health/ec2-odcr-underutilization-notification': [],
  'aws.health/ec2-operational-issue-public': [],
  'aws.health/ec2-persistent-instance-retirement-scheduled': ['HealthRule'],
  'aws.imagebuilder/image-state-change-available': ['ImageBuilderImageRule'],
  'aws.ssm/cloudtrail-start-session': ['ShellAccessRule'],
  // A golden-AMI parameter named MyGoldenAMI (data type aws:ec2:image), not under /phoenix/channels/.
  'aws.ssm/parameter-store-change-create': ['ImageParameterRule'],
};

interface Case {
  readonly name: string;
  readonly event: Record<string, any>;
  /** The Phoenix bus, or the default bus. */
  readonly bus: 'default' | 'phoenix';
  readonly expected: readonly RuleId[];
}

function fixtureNames(): string[] {
  return readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(path.join(FIXTURES, d.name))
        .filter((f) => f.endsWith('.json'))
        .map((f) => `${d.name}/${f.replace(/\.json$/, '')}`),
    )
    .sort();
}

const fixture = (name: string) => {
  const [source, variant] = name.split('/') as [string, string];
  return awsEvent(source, variant);
};

/** Twins of real samples that the catalog must tell apart from them (derived in code, one field changed). */
function derivedCases(): Case[] {
  const ami = fixture('aws.ec2/ami-state-change-available');
  const parameter = fixture('aws.ssm/parameter-store-change-create');
  const retirement = fixture('aws.health/ec2-instance-retirement-scheduled');
  const oversized = fixture('aws.config/oversized-configuration-item-change-ssm-inventory');
  const terminating = fixture('aws.autoscaling/terminate-lifecycle-action');
  // An EC2 code AWS Health does publish, for an instance EC2 already recovered: nothing to replace.
  const otherHealthCode = 'AWS_EC2_SIMPLIFIED_AUTO_RECOVERY_SUCCESS';
  if (otherHealthCode in HEALTH_EVENT_CAUSES) throw new Error(`${otherHealthCode} is in the catalog now`);
  return [
    // Negative twins: the one field that makes the sample match, changed.
    {
      name: 'derived: AMI State Change, State pending',
      event: derive(ami, { State: 'pending' }),
      expected: [],
    },
    {
      name: 'derived: Parameter Store Change MyGoldenAMI, operation Delete',
      event: derive(parameter, { operation: 'Delete' }),
      expected: [],
    },
    {
      name: `derived: Health EC2, eventTypeCode ${otherHealthCode} (not in the catalog)`,
      event: derive(retirement, {
        eventTypeCode: otherHealthCode,
        eventArn: `arn:aws:health:us-east-1::event/${otherHealthCode}_1`,
      }),
      expected: [],
    },
    // Positive twins: a channel parameter is also a golden-AMI parameter when its data type says so.
    {
      name: 'derived: Parameter Store Change /phoenix/channels/web, aws:ec2:image',
      event: derive(parameter, { name: '/phoenix/channels/web' }),
      expected: ['ChannelParameterRule', 'ImageParameterRule'],
    },
    {
      name: 'derived: Parameter Store Change /phoenix/channels/web, Update, text',
      event: derive(parameter, { name: '/phoenix/channels/web', operation: 'Update', dataType: 'text' }),
      expected: ['ChannelParameterRule'],
    },
    {
      name: 'derived: EC2 Instance-terminate Lifecycle Action of the hook phoenix-drain',
      event: derive(terminating, { LifecycleHookName: 'phoenix-drain' }),
      expected: ['DrainHookRule'],
    },
    {
      name: 'derived: oversized Config item UPDATE of an EC2 instance',
      event: derive(oversized, {
        configurationItemSummary: {
          ...oversized.detail.configurationItemSummary,
          resourceType: 'AWS::EC2::Instance',
          resourceId: 'i-12345678901234567',
          ARN: 'arn:aws:ec2:us-east-1:123456789012:instance/i-12345678901234567',
        },
      }),
      expected: ['ConfigOversizedItemChangeRule'],
    },
  ].map((c) => ({ ...c, bus: 'default' as const, expected: c.expected }));
}

/** Not a fixture: the operator's command, on the Phoenix bus, and the same command on the default bus. */
function commandCases(): Case[] {
  const command = (channel: string) => ({
    source: COMMAND_SOURCE,
    'detail-type': DetailTypes.PublishImage,
    detail: { channel, imageId: 'ami-0123456789abcdef0' },
  });
  return [
    {
      name: 'command: PublishImage on the Phoenix bus',
      event: command('web'),
      bus: 'phoenix',
      expected: ['PublishImageRule'],
    },
    {
      name: 'command: PublishImage on the default bus',
      event: command('web-default'),
      bus: 'default',
      expected: [],
    },
  ];
}

/** What attributes a received event to the case that put it: its source, detail-type and detail. */
function key(event: Record<string, any>): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : typeof value === 'object' && value !== null
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
          )
        : value;
  return JSON.stringify(canonical([event.source, event['detail-type'], event.detail]));
}

/** ruleId by the logical id CDK gives the rule in the stack (the stack built as the local runtime builds it). */
function ruleIdsByLogicalId(): Map<string, RuleId> {
  const stack = new PhoenixStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), LOCAL_STACK_NAME);
  return new Map(
    Object.entries(stack.controlPlane.rules).map(([ruleId, rule]) => [
      stack.resolve((rule.node.defaultChild as CfnElement).logicalId) as string,
      ruleId,
    ]),
  );
}

const cases: Case[] = [
  ...fixtureNames().map((name): Case => ({
    name,
    event: fixture(name),
    bus: 'default',
    expected: EXPECTED[name] ?? [],
  })),
  ...derivedCases(),
  ...commandCases(),
];

let sqs: SQSClient;
let events: EventBridgeClient;
/** Case name → the rules that received it (in arrival order; a rule twice is a duplicate delivery). */
const received = new Map<string, RuleId[]>();
/** Messages no case put. */
const unattributed: string[] = [];
let queues: { ruleId: RuleId; queue: RuleQueue }[] = [];

beforeAll(async () => {
  const cp = await freshControlPlane();
  const config = emulatorClientConfig({ endpoint: cp.endpoint, region: REGION });
  sqs = new SQSClient(config);
  events = new EventBridgeClient(config);
  const byLogicalId = ruleIdsByLogicalId();
  // The catalog's rules; the reconcile sweep's schedule rule has no pattern to test.
  queues = cp.ruleQueues
    .filter((queue) => queue.rule.scheduleExpression === undefined)
    .map((queue) => {
      const ruleId = byLogicalId.get(queue.rule.logicalId);
      if (ruleId === undefined) throw new Error(`rule queue ${queue.queueName}: not a rule of the catalog`);
      return { ruleId, queue };
    });

  const byKey = new Map(cases.map((c) => [key(c.event), c.name]));
  expect(byKey.size, 'two cases put the same source, detail-type and detail').toBe(cases.length);

  // Put everything, ten entries per call (the PutEvents limit), then drain every rule queue.
  const entries = cases.map(({ event, bus }): PutEventsRequestEntry => ({
    ...(bus === 'phoenix' ? { EventBusName: cp.model.eventBuses[0]!.name } : {}),
    Source: event.source,
    DetailType: event['detail-type'],
    Detail: JSON.stringify(event.detail),
    ...(Array.isArray(event.resources) ? { Resources: event.resources } : {}),
  }));
  for (let i = 0; i < entries.length; i += 10) {
    const result = await events.send(new PutEventsCommand({ Entries: entries.slice(i, i + 10) }));
    expect(result.FailedEntryCount ?? 0, JSON.stringify(result.Entries)).toBe(0);
  }
  for (const { ruleId, body } of await drain()) {
    const name = byKey.get(key(JSON.parse(body) as Record<string, any>));
    if (name === undefined) unattributed.push(`${ruleId}: ${body.slice(0, 200)}`);
    else received.set(name, [...(received.get(name) ?? []), ruleId]);
  }
}, 60_000);

afterAll(() => {
  sqs?.destroy();
  events?.destroy();
});

/**
 * Reads every rule queue in parallel (long polls of 1 s), deleting what it reads, until at least
 * `minMs` have passed and two rounds in a row found nothing. The emulator delivers in ~130 ms.
 */
async function drain(minMs = 2_500): Promise<{ ruleId: RuleId; body: string }[]> {
  const out: { ruleId: RuleId; body: string }[] = [];
  const started = Date.now();
  let quietRounds = 0;
  while (Date.now() - started < minMs || quietRounds < 2) {
    if (Date.now() - started > 30_000) throw new Error('rule queues still not quiet after 30 s');
    const counts = await Promise.all(
      queues.map(async ({ ruleId, queue }) => {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
          }),
        );
        if (Messages.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queue.queueUrl,
              Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
            }),
          );
        }
        for (const m of Messages) out.push({ ruleId, body: m.Body ?? '' });
        return Messages.length;
      }),
    );
    quietRounds = counts.some((n) => n > 0) ? 0 : quietRounds + 1;
  }
  return out;
}

describe('the expectation table', () => {
  it('names every fixture under test/fixtures/events, and nothing else', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(fixtureNames());
  });

  it('names only rules of the catalog, and each of them is expected of at least one event', () => {
    const ruleIds = EVENT_SOURCES.map((s) => s.ruleId);
    const named = new Set(cases.flatMap((c) => c.expected));
    for (const ruleId of named) expect(ruleIds).toContain(ruleId);
    expect([...named].sort()).toEqual([...ruleIds].sort());
  });
});

describe('rule matching in the emulator', () => {
  it('has one rule queue per catalog rule, each rule created with exactly its catalog pattern and bus', () => {
    expect(queues.map((q) => q.ruleId).sort()).toEqual(EVENT_SOURCES.map((s) => s.ruleId).sort());
    for (const source of EVENT_SOURCES) {
      const { queue } = queues.find((q) => q.ruleId === source.ruleId)!;
      expect(JSON.parse(queue.rule.eventPattern!), source.ruleId).toStrictEqual(source.pattern);
      expect(queue.rule.eventBusName === 'default' ? 'default' : 'phoenix', source.ruleId).toBe(source.bus);
    }
  });

  it.each(cases.map((c) => ({ ...c, rules: c.expected.length > 0 ? c.expected.join(' + ') : 'no rule' })))(
    '$name → $rules',
    ({ name, expected }) => {
      expect((received.get(name) ?? []).slice().sort()).toStrictEqual([...expected].sort());
    },
  );

  it('delivered nothing that no case put', () => {
    expect(unattributed).toEqual([]);
  });
});
