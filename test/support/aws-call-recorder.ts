/**
 * Records every AWS call the handlers make during a test run, as the IAM requests AWS would
 * authorize for it (issue 10, "must allow"): the action, the resource ARN, the condition keys that
 * matter (the resource's tags as they are before the call, request tags, aws:TagKeys,
 * iam:PassedToService, dynamodb:LeadingKeys, ssm:resourceTag/...), and the actions AWS requires
 * beside the call (DEPENDENT_ACTIONS). test/infra/iam-must-allow.test.ts simulates each recording
 * against the synthesized policy of the role of the function that made it.
 *
 * How: `send` of every SDK v3 client class the handlers use is wrapped (the class prototypes, so
 * the singletons of lambdas/aws/clients.ts and the CloudWatch client of lambdas/aws/alarms.ts are
 * covered alike). A call is attributed to a handler by the handler context the local runtime sets
 * per invocation (lambdas/aws/call-context.ts, e2e tests), else by the handler's module on the
 * call's stack (`lambdas/steps/<step>.ts` or `lambdas/<handler>.ts`: integration tests call the
 * steps directly). Calls of neither kind (the tests' own setup and assertions) are not recorded.
 * Resources and tags are looked up with the recorder's own clients, which are not recorded.
 *
 * Off unless installed (test/setup/record-aws-calls.ts installs it when PHOENIX_RECORD_AWS_CALLS=1).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { DescribeTagsCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { currentHandler } from '../../lambdas/aws/call-context';
import type { IamRequest } from './iam-policies';

// ---- what a recording is ------------------------------------------------------------------------

export interface RecordedRequest extends IamRequest {
  /** Why this request is part of the call: `call` (the action itself) or the dependent action's reason. */
  readonly why: string;
}

export interface RecordedCall {
  /** The `phoenix:handler` of the function that made the call. */
  readonly handler: string;
  readonly attributedBy: 'context' | 'stack';
  /** The IAM service prefix and the API operation (`autoscaling`, `UpdateAutoScalingGroup`). */
  readonly service: string;
  readonly operation: string;
  readonly requests: readonly RecordedRequest[];
  /** What could not be turned into requests (an unmapped operation, a lookup that failed): a failure. */
  readonly unresolved?: readonly string[];
  /** The test file that ran when the call was made. */
  readonly testFile: string;
}

export const RECORDINGS_DIR = path.resolve(__dirname, '..', '..', 'test-results', 'aws-calls');

// ---- dependent actions ------------------------------------------------------------------------

interface DependentAction {
  readonly action: string;
  readonly when: string;
  readonly source: string;
}

const AUTOSCALING_API_PERMISSIONS =
  'Amazon EC2 Auto Scaling User Guide, "Amazon EC2 Auto Scaling API permissions" (Required permissions from other AWS APIs): https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-api-permissions.html';
const LAUNCH_TEMPLATE_PERMISSIONS =
  'Amazon EC2 Auto Scaling User Guide, "Control Amazon EC2 launch template usage in Auto Scaling groups" (ec2:RunInstances is checked when a group is created or updated with a launch template): https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-launch-template-permissions.html';
const AUTOSCALING_TAGGING =
  'Amazon EC2 Auto Scaling User Guide, "Tag Auto Scaling groups and instances" (creating a group with tags needs autoscaling:CreateOrUpdateTags): https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-tagging.html';

/**
 * Actions AWS authorizes beside the call itself, by `<service>:<Operation>`. (The Service
 * Authorization Reference's "Dependent actions" column is empty for these operations; the
 * Auto Scaling user guide pages cited are where AWS documents them.)
 */
export const DEPENDENT_ACTIONS: Readonly<Record<string, readonly DependentAction[]>> = {
  'autoscaling:CreateAutoScalingGroup': [
    { action: 'autoscaling:CreateOrUpdateTags', when: 'the request has Tags', source: AUTOSCALING_TAGGING },
    {
      action: 'ec2:RunInstances',
      when: 'a launch template is given: on the launch template and every resource it launches',
      source: `${AUTOSCALING_API_PERMISSIONS}; ${LAUNCH_TEMPLATE_PERMISSIONS}`,
    },
    {
      action: 'iam:PassRole',
      when: "the launch template version names an instance profile: on the profile's role",
      source: AUTOSCALING_API_PERMISSIONS,
    },
    {
      action: 'ec2:CreateTags',
      when: 'the launch template version has TagSpecifications',
      source: AUTOSCALING_API_PERMISSIONS,
    },
  ],
  'autoscaling:UpdateAutoScalingGroup': [
    {
      action: 'ec2:RunInstances',
      when: 'a launch template (version) is given: on the launch template and every resource it launches',
      source: `${AUTOSCALING_API_PERMISSIONS}; ${LAUNCH_TEMPLATE_PERMISSIONS}`,
    },
    {
      action: 'iam:PassRole',
      when: "the launch template version names an instance profile: on the profile's role",
      source: AUTOSCALING_API_PERMISSIONS,
    },
  ],
};

// ---- the recorder ----------------------------------------------------------------------------

interface Sendable {
  send(command: { input?: unknown; constructor: { name: string } }, ...rest: unknown[]): Promise<unknown>;
}
type ClientClass = { prototype: Sendable; name: string };

/** The client classes the handlers use, and the IAM service prefix of each. */
const CLIENTS: readonly [ClientClass, string][] = [
  [AutoScalingClient, 'autoscaling'],
  [EC2Client, 'ec2'],
  [DynamoDBClient, 'dynamodb'],
  [EventBridgeClient, 'events'],
  [SFNClient, 'states'],
  [SSMClient, 'ssm'],
  [ElasticLoadBalancingV2Client, 'elasticloadbalancing'],
  [CloudWatchClient, 'cloudwatch'],
];

const PATCHED = Symbol.for('phoenix.awsCallRecorder');

export interface RecorderState {
  /** Where records go (one JSON object a line). */
  file: string;
  testFile: string;
}

const state: RecorderState = { file: '', testFile: '' };
const lookupClients = new WeakSet<object>();

/** Install the recorder (once per process); later calls only change where records go. */
export function installAwsCallRecorder(target: RecorderState): void {
  state.file = target.file;
  state.testFile = target.testFile;
  mkdirSync(path.dirname(target.file), { recursive: true });
  for (const [Client, service] of CLIENTS) {
    const proto = Client.prototype as Sendable & { [PATCHED]?: boolean };
    if (proto[PATCHED] === true) continue;
    // `send` is inherited from the SDK's base Client: shadow it on this class only.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const original = proto.send;
    proto.send = async function recordedSend(this: Sendable, command, ...rest) {
      if (!lookupClients.has(this)) {
        const attribution = attribute();
        if (attribution !== undefined) await record(service, command, attribution);
      }
      return original.call(this, command, ...rest);
    };
    proto[PATCHED] = true;
  }
}

function attribute(): { handler: string; by: 'context' | 'stack' } | undefined {
  const fromContext = currentHandler();
  if (fromContext !== undefined) return { handler: fromContext, by: 'context' };
  const handler = handlerOnStack();
  return handler !== undefined ? { handler, by: 'stack' } : undefined;
}

/** Step modules and the handler they belong to (a step module belongs to exactly one handler). */
const STEP_HANDLERS: Readonly<Record<string, string>> = {
  fleet: 'rollout-fleet',
  'blue-green': 'rollout-fleet', // imported only by steps/fleet.ts
  record: 'rollout-record',
  intake: 'intake',
  replace: 'replace',
  drain: 'drain',
  reconcile: 'reconcile',
  chaos: 'chaos',
  promote: 'promote',
};
const HANDLERS = new Set(Object.values(STEP_HANDLERS));

function handlerOnStack(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  for (const line of stack.split('\n')) {
    const step = /[\\/]lambdas[\\/]steps[\\/]([a-z-]+)\.ts/.exec(line);
    if (step !== null) return STEP_HANDLERS[step[1]!];
    const entry = /[\\/]lambdas[\\/]([a-z-]+)\.ts/.exec(line);
    if (entry !== null && HANDLERS.has(entry[1]!)) return entry[1];
  }
  return undefined;
}

async function record(
  service: string,
  command: { input?: unknown; constructor: { name: string } },
  attribution: { handler: string; by: 'context' | 'stack' },
): Promise<void> {
  const operation = command.constructor.name.replace(/Command$/, '');
  let requests: RecordedRequest[] = [];
  const unresolved: string[] = [];
  try {
    requests = await iamRequests(service, operation, (command.input ?? {}) as Input, unresolved);
  } catch (error) {
    unresolved.push(
      `lookup failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
  }
  const entry: RecordedCall = {
    handler: attribution.handler,
    attributedBy: attribution.by,
    service,
    operation,
    requests,
    ...(unresolved.length > 0 ? { unresolved } : {}),
    testFile: state.testFile,
  };
  appendFileSync(state.file, `${JSON.stringify(entry)}\n`);
}

// ---- lookups (not recorded) -------------------------------------------------------------------

const region = () => process.env.AWS_REGION ?? 'us-east-1';
const account = () => '123456789012'; // the emulator's account, and the account the policies are resolved in

let lookups:
  { autoScaling: AutoScalingClient; ec2: EC2Client; elb: ElasticLoadBalancingV2Client } | undefined;
let lookupsEndpoint: string | undefined;
function lookup() {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (lookups === undefined || lookupsEndpoint !== endpoint) {
    // With the fault layer on, AWS_ENDPOINT_URL is its proxy: a lookup meets injected faults too
    // (seen once in CI: "lookup failed: TimeoutError: socket hang up"). It is the harness's own read,
    // so it retries far past the handlers' default of 3 attempts.
    const config = { region: region(), maxAttempts: 12, ...(endpoint !== undefined ? { endpoint } : {}) };
    lookups = {
      autoScaling: new AutoScalingClient(config),
      ec2: new EC2Client(config),
      elb: new ElasticLoadBalancingV2Client(config),
    };
    lookupsEndpoint = endpoint;
    for (const client of Object.values(lookups)) lookupClients.add(client);
  }
  return lookups;
}

type Input = Record<string, unknown>;
type Tags = Record<string, string>;
type Context = Record<string, string | string[]>;

interface GroupFacts {
  arn: string;
  tags: Tags;
  exists: boolean;
}

const placeholderGroupArn = (name: string) =>
  `arn:aws:autoscaling:${region()}:${account()}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${name}`;

async function group(name: string): Promise<GroupFacts> {
  const result = await lookup().autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const g = result.AutoScalingGroups?.[0];
  if (g === undefined) return { arn: placeholderGroupArn(name), tags: {}, exists: false };
  return {
    arn: g.AutoScalingGroupARN ?? placeholderGroupArn(name),
    tags: Object.fromEntries((g.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
    exists: true,
  };
}

async function groupOfInstance(instanceId: string): Promise<string | undefined> {
  const result = await lookup().autoScaling.send(
    new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
  );
  return result.AutoScalingInstances?.[0]?.AutoScalingGroupName;
}

async function instanceTags(instanceId: string): Promise<Tags> {
  const result = await lookup().ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = result.Reservations?.[0]?.Instances?.[0];
  return Object.fromEntries((instance?.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

async function launchTemplateTags(id: string): Promise<Tags> {
  const result = await lookup().ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [id] }));
  return Object.fromEntries(
    (result.LaunchTemplates?.[0]?.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']),
  );
}

const resourceTags = (tags: Tags, prefixes: readonly string[]): Context =>
  Object.fromEntries(
    Object.entries(tags).flatMap(([key, value]) => prefixes.map((prefix) => [`${prefix}/${key}`, value])),
  );
const groupTagContext = (tags: Tags) => resourceTags(tags, ['aws:ResourceTag', 'autoscaling:ResourceTag']);
const ec2TagContext = (tags: Tags) => resourceTags(tags, ['aws:ResourceTag', 'ec2:ResourceTag']);

function requestTagContext(tags: readonly { Key?: string; Value?: string }[]): Context {
  return {
    ...Object.fromEntries(tags.map((t) => [`aws:RequestTag/${t.Key ?? ''}`, t.Value ?? ''])),
    'aws:TagKeys': [...new Set(tags.map((t) => t.Key ?? ''))],
  };
}

/**
 * ec2:RunInstances (and iam:PassRole, ec2:CreateTags) that creating or updating a group with this
 * launch template requires: on the template and on what its version launches.
 */
async function launchRequests(
  spec: { LaunchTemplateId?: string; LaunchTemplateName?: string; Version?: string },
  subnets: readonly string[],
  unresolved: string[],
): Promise<RecordedRequest[]> {
  const why = 'dependent: creating or updating a group with a launch template launches it';
  const versions = await lookup().ec2.send(
    new DescribeLaunchTemplateVersionsCommand({
      ...(spec.LaunchTemplateId !== undefined
        ? { LaunchTemplateId: spec.LaunchTemplateId }
        : { LaunchTemplateName: spec.LaunchTemplateName }),
      Versions: [spec.Version ?? '$Default'],
    }),
  );
  const version = versions.LaunchTemplateVersions?.[0];
  const id = version?.LaunchTemplateId ?? spec.LaunchTemplateId;
  if (id === undefined || version === undefined) {
    unresolved.push(`launch template ${JSON.stringify(spec)} not found`);
    return [];
  }
  const templateArn = `arn:aws:ec2:${region()}:${account()}:launch-template/${id}`;
  const data = version.LaunchTemplateData ?? {};
  const viaTemplate: Context = { 'ec2:LaunchTemplate': templateArn };
  const run = (resource: string, context: Context = {}): RecordedRequest => ({
    action: 'ec2:RunInstances',
    resource,
    context: { ...viaTemplate, ...context },
    why,
  });
  const requests: RecordedRequest[] = [
    run(templateArn, ec2TagContext(await launchTemplateTags(id))),
    run(`arn:aws:ec2:${region()}:${account()}:instance/*`),
    run(`arn:aws:ec2:${region()}:${account()}:volume/*`),
    run(`arn:aws:ec2:${region()}:${account()}:network-interface/*`),
  ];
  if (data.ImageId !== undefined) {
    const images = await lookup().ec2.send(new DescribeImagesCommand({ ImageIds: [data.ImageId] }));
    const owner = images.Images?.[0]?.OwnerId;
    requests.push(
      run(`arn:aws:ec2:${region()}::image/${data.ImageId}`, {
        'ec2:IsLaunchTemplateResource': 'true',
        ...(owner !== undefined ? { 'ec2:Owner': owner } : {}),
      }),
    );
  }
  for (const subnet of subnets) requests.push(run(`arn:aws:ec2:${region()}:${account()}:subnet/${subnet}`));
  for (const sg of data.SecurityGroupIds ?? []) {
    requests.push(
      run(`arn:aws:ec2:${region()}:${account()}:security-group/${sg}`, {
        'ec2:IsLaunchTemplateResource': 'true',
      }),
    );
  }
  if (data.IamInstanceProfile !== undefined) {
    // The instance profile's role needs IAM to resolve (no IAM client here): say so, do not guess.
    unresolved.push(
      `iam:PassRole for the instance profile ${JSON.stringify(data.IamInstanceProfile)} of ${id} is not resolved by the recorder`,
    );
  }
  if ((data.TagSpecifications ?? []).length > 0) {
    for (const spec of data.TagSpecifications ?? []) {
      // The template's own tags (moto 5.2.5 reports CreateLaunchTemplate's TagSpecifications in
      // the version's data): a launch never tags a launch template.
      if (spec.ResourceType === 'launch-template') continue;
      requests.push({
        action: 'ec2:CreateTags',
        resource: `arn:aws:ec2:${region()}:${account()}:${spec.ResourceType ?? 'instance'}/*`,
        context: { ...requestTagContext(spec.Tags ?? []), 'ec2:CreateAction': 'RunInstances' },
        why: 'dependent: the launch template version tags what it launches',
      });
    }
  }
  return requests;
}

// ---- operations → IAM requests ---------------------------------------------------------------

/** Operations whose action supports no resource-level permissions: Resource "*". */
const WILDCARD_ONLY = /^(Describe|List)|^GetCommandInvocation$/;

async function iamRequests(
  service: string,
  operation: string,
  input: Input,
  unresolved: string[],
): Promise<RecordedRequest[]> {
  const action = `${service}:${operation}`;
  const call = (resource: string, context: Context = {}): RecordedRequest => ({
    action,
    resource,
    context,
    why: 'call',
  });
  if (WILDCARD_ONLY.test(operation) && !(service === 'cloudwatch' && operation === 'DescribeAlarms')) {
    return [call('*')];
  }
  const str = (value: unknown) => (typeof value === 'string' ? value : undefined);

  switch (service) {
    case 'autoscaling':
      return autoScalingRequests(operation, input, call, unresolved);
    case 'ec2': {
      if (operation === 'CreateLaunchTemplateVersion') {
        const id = str(input.LaunchTemplateId);
        if (id === undefined) break;
        return [
          call(
            `arn:aws:ec2:${region()}:${account()}:launch-template/${id}`,
            ec2TagContext(await launchTemplateTags(id)),
          ),
        ];
      }
      if (operation === 'CreateTags') {
        const tags = requestTagContext((input.Tags ?? []) as { Key?: string; Value?: string }[]);
        const out: RecordedRequest[] = [];
        for (const id of (input.Resources ?? []) as string[]) {
          if (id.startsWith('i-')) {
            out.push(
              call(`arn:aws:ec2:${region()}:${account()}:instance/${id}`, {
                ...tags,
                ...ec2TagContext(await instanceTags(id)),
              }),
            );
          } else if (id.startsWith('ami-')) out.push(call(`arn:aws:ec2:${region()}::image/${id}`, tags));
          else unresolved.push(`ec2:CreateTags of ${id}: resource type not mapped`);
        }
        return out;
      }
      break;
    }
    case 'dynamodb': {
      const tableArn = (name: string) => `arn:aws:dynamodb:${region()}:${account()}:table/${name}`;
      const leading = (key: unknown): string[] => {
        const pk = (key as Record<string, { S?: string; N?: string }> | undefined)?.pk;
        return pk?.S !== undefined ? [pk.S] : pk?.N !== undefined ? [pk.N] : [];
      };
      if (['GetItem', 'UpdateItem', 'PutItem', 'DeleteItem'].includes(operation)) {
        const key = operation === 'PutItem' ? input.Item : input.Key;
        return [call(tableArn(String(input.TableName)), { 'dynamodb:LeadingKeys': leading(key) })];
      }
      if (operation === 'BatchGetItem') {
        return Object.entries((input.RequestItems ?? {}) as Record<string, { Keys?: unknown[] }>).map(
          ([table, items]) =>
            call(tableArn(table), {
              'dynamodb:LeadingKeys': [...new Set((items.Keys ?? []).flatMap(leading))],
            }),
        );
      }
      break;
    }
    case 'events': {
      if (operation !== 'PutEvents') break;
      const entries = (input.Entries ?? []) as {
        EventBusName?: string;
        Source?: string;
        DetailType?: string;
      }[];
      return entries.map((entry) => {
        const bus = entry.EventBusName ?? 'default';
        const busArn = bus.startsWith('arn:')
          ? bus
          : `arn:aws:events:${region()}:${account()}:event-bus/${bus}`;
        return call(busArn, {
          ...(entry.Source !== undefined ? { 'events:source': entry.Source } : {}),
          ...(entry.DetailType !== undefined ? { 'events:detail-type': entry.DetailType } : {}),
        });
      });
    }
    case 'states': {
      if (operation === 'StartExecution') return [call(String(input.stateMachineArn))];
      // The callback pattern: no resource-level permissions (the Service Authorization Reference
      // lists no resource type), so IAM authorizes them on Resource *.
      if (['SendTaskSuccess', 'SendTaskFailure', 'SendTaskHeartbeat'].includes(operation)) return [call('*')];
      if (operation === 'DescribeExecution' || operation === 'StopExecution')
        return [call(String(input.executionArn))];
      break;
    }
    case 'ssm': {
      const parameterArn = (name: string) => {
        const bare = name.replace(/^\//, '');
        // AWS public parameters (/aws/service/...) belong to no account.
        return bare.startsWith('aws/service/')
          ? `arn:aws:ssm:${region()}::parameter/${bare}`
          : `arn:aws:ssm:${region()}:${account()}:parameter/${bare}`;
      };
      if (operation === 'GetParameter') {
        const name = String(input.Name);
        return [call(name.startsWith('arn:') ? name : parameterArn(name))];
      }
      if (operation === 'GetParameters') {
        return ((input.Names ?? []) as string[]).map((name) =>
          call(name.startsWith('arn:') ? name : parameterArn(name)),
        );
      }
      if (operation === 'PutParameter') {
        const name = String(input.Name);
        return [call(name.startsWith('arn:') ? name : parameterArn(name))];
      }
      if (operation === 'SendCommand') {
        const document = String(input.DocumentName);
        const documentArn = document.startsWith('arn:')
          ? document
          : /^(AWS|Amazon)/.test(document)
            ? `arn:aws:ssm:${region()}::document/${document}`
            : `arn:aws:ssm:${region()}:${account()}:document/${document}`;
        const out = [call(documentArn)];
        for (const id of (input.InstanceIds ?? []) as string[]) {
          const tags = await instanceTags(id);
          out.push(
            call(`arn:aws:ec2:${region()}:${account()}:instance/${id}`, {
              ...resourceTags(tags, ['ssm:resourceTag', 'aws:ResourceTag']),
            }),
          );
        }
        if (input.Targets !== undefined) unresolved.push('ssm:SendCommand with Targets: not mapped');
        return out;
      }
      break;
    }
    case 'elasticloadbalancing': {
      const tg = str(input.TargetGroupArn);
      if (tg === undefined) break;
      const described = await lookup().elb.send(new DescribeTagsCommand({ ResourceArns: [tg] }));
      const tags = Object.fromEntries(
        (described.TagDescriptions?.[0]?.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']),
      );
      return [call(tg, resourceTags(tags, ['aws:ResourceTag', 'elasticloadbalancing:ResourceTag']))];
    }
    case 'cloudwatch': {
      if (operation !== 'DescribeAlarms') break;
      const names = (input.AlarmNames ?? []) as string[];
      const alarm = (name: string) => `arn:aws:cloudwatch:${region()}:${account()}:alarm:${name}`;
      return names.length > 0 ? names.map((name) => call(alarm(name))) : [call(alarm('*'))];
    }
  }
  unresolved.push(`${action}: not mapped to IAM requests in test/support/aws-call-recorder.ts`);
  return [];
}

async function autoScalingRequests(
  operation: string,
  input: Input,
  call: (resource: string, context?: Context) => RecordedRequest,
  unresolved: string[],
): Promise<RecordedRequest[]> {
  const name = typeof input.AutoScalingGroupName === 'string' ? input.AutoScalingGroupName : undefined;
  const sizeContext = (): Context => ({
    ...(typeof input.MinSize === 'number' ? { 'autoscaling:MinSize': String(input.MinSize) } : {}),
    ...(typeof input.MaxSize === 'number' ? { 'autoscaling:MaxSize': String(input.MaxSize) } : {}),
  });
  const subnets = () =>
    (typeof input.VPCZoneIdentifier === 'string' ? input.VPCZoneIdentifier : '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  const template = input.LaunchTemplate as
    { LaunchTemplateId?: string; LaunchTemplateName?: string; Version?: string } | undefined;
  const versionContext = (): Context =>
    template !== undefined
      ? {
          'autoscaling:LaunchTemplateVersionSpecified': String(
            template.Version !== undefined && !['$Latest', '$Default'].includes(template.Version),
          ),
        }
      : {};

  switch (operation) {
    case 'CreateAutoScalingGroup': {
      if (name === undefined) break;
      const tags = (input.Tags ?? []) as { Key?: string; Value?: string }[];
      const resource = placeholderGroupArn(name);
      const targetGroups = (input.TargetGroupARNs ?? []) as string[];
      const out: RecordedRequest[] = [
        call(resource, {
          ...requestTagContext(tags),
          ...sizeContext(),
          ...versionContext(),
          ...(targetGroups.length > 0 ? { 'autoscaling:TargetGroupARNs': targetGroups } : {}),
          ...(subnets().length > 0 ? { 'autoscaling:VPCZoneIdentifiers': subnets() } : {}),
        }),
      ];
      if (tags.length > 0) {
        out.push({
          action: 'autoscaling:CreateOrUpdateTags',
          resource,
          context: requestTagContext(tags),
          why: 'dependent: creating a group with tags',
        });
      }
      if (template !== undefined) out.push(...(await launchRequests(template, subnets(), unresolved)));
      return out;
    }
    case 'UpdateAutoScalingGroup': {
      if (name === undefined) break;
      const g = await group(name);
      const out = [call(g.arn, { ...groupTagContext(g.tags), ...sizeContext(), ...versionContext() })];
      if (template !== undefined) out.push(...(await launchRequests(template, subnets(), unresolved)));
      return out;
    }
    case 'CreateOrUpdateTags':
    case 'DeleteTags': {
      const tags = (input.Tags ?? []) as { ResourceId?: string; Key?: string; Value?: string }[];
      const out: RecordedRequest[] = [];
      for (const groupName of new Set(tags.map((t) => t.ResourceId ?? ''))) {
        const g = await group(groupName);
        const mine = tags.filter((t) => t.ResourceId === groupName);
        const request =
          operation === 'DeleteTags'
            ? { 'aws:TagKeys': [...new Set(mine.map((t) => t.Key ?? ''))] }
            : requestTagContext(mine);
        out.push(call(g.arn, { ...groupTagContext(g.tags), ...request }));
      }
      return out;
    }
    case 'TerminateInstanceInAutoScalingGroup': {
      const instanceId = String(input.InstanceId);
      const groupName = await groupOfInstance(instanceId);
      if (groupName === undefined) {
        unresolved.push(`the group of ${instanceId} is not known (instance gone before the call)`);
        return [];
      }
      const g = await group(groupName);
      return [call(g.arn, groupTagContext(g.tags))];
    }
    case 'DeleteAutoScalingGroup':
    case 'SetDesiredCapacity':
    case 'SuspendProcesses':
    case 'ResumeProcesses':
    case 'AttachLoadBalancerTargetGroups':
    case 'DetachLoadBalancerTargetGroups':
    case 'PutLifecycleHook':
    case 'DeleteLifecycleHook':
    case 'CompleteLifecycleAction':
    case 'RecordLifecycleActionHeartbeat': {
      if (name === undefined) break;
      const g = await group(name);
      const targetGroups = (input.TargetGroupARNs ?? []) as string[];
      return [
        call(g.arn, {
          ...groupTagContext(g.tags),
          ...(operation === 'DeleteAutoScalingGroup'
            ? { 'autoscaling:ForceDelete': String(input.ForceDelete === true) }
            : {}),
          ...(targetGroups.length > 0 ? { 'autoscaling:TargetGroupARNs': targetGroups } : {}),
        }),
      ];
    }
  }
  unresolved.push(
    `autoscaling:${operation}: not mapped to IAM requests in test/support/aws-call-recorder.ts`,
  );
  return [];
}
