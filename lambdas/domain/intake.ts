/**
 * Event intake: what an incoming EventBridge event means for Phoenix (its intent).
 *
 * Pure: no SDK, no clock. The intake Lambda, the local runtime and the CLI share it. Events are
 * parsed as AWS shapes them (placeholders, stray whitespace, PascalCase or kebab-case keys); a value
 * that is not a valid id is never acted upon.
 */
import * as z from 'zod/mini';
import { CHANNEL_PARAMETER_PREFIX, COMMAND_SOURCE, DetailTypes, NAME_PATTERN } from './contract';
import { MalformedEventError } from './errors';
import { isAmiId } from './ids';

/** An EventBridge event as delivered to a target. */
const nonEmpty = () => z.string().check(z.minLength(1));
const envelopeSchema = z.object({
  id: nonEmpty(),
  source: nonEmpty(),
  'detail-type': nonEmpty(),
  account: z.optional(z.string()),
  region: z.optional(z.string()),
  time: z.optional(z.string()),
  resources: z.optional(z.array(z.string())),
  detail: z.record(z.string(), z.unknown()),
});
export type EventEnvelope = z.infer<typeof envelopeSchema>;

/** Where an image publication came from. */
export type PublicationSource = 'ami-state-change' | 'channel-parameter' | 'publish-command';

/**
 * An image was published. Either the AMI id is known (`imageId`), or only the SSM parameter that
 * names it (`parameterName`, whose value the intake reads: the event does not carry it).
 * `channel` is known for parameters and for commands that name one; otherwise it is the AMI's tag.
 */
export interface RolloutIntent {
  readonly kind: 'rollout';
  readonly source: PublicationSource;
  readonly eventId: string;
  readonly imageId?: string;
  readonly parameterName?: string;
  readonly channel?: string;
}

export interface IgnoreIntent {
  readonly kind: 'ignore';
  readonly eventId: string;
  readonly reason: string;
}

export type Intent = RolloutIntent | IgnoreIntent;

/** The channel a parameter name designates, or undefined when it is not a channel parameter. */
export function channelOfParameter(name: string): string | undefined {
  if (!name.startsWith(CHANNEL_PARAMETER_PREFIX)) return undefined;
  const channel = name.slice(CHANNEL_PARAMETER_PREFIX.length);
  return NAME_PATTERN.test(channel) ? channel : undefined;
}

const trimmed = (value: unknown): string | undefined =>
  typeof value === 'string' ? value.trim() : undefined;

/** Parse an EventBridge envelope; a payload that is not one is a MalformedEventError. */
export function parseEnvelope(event: unknown): EventEnvelope {
  const parsed = envelopeSchema.safeParse(event);
  if (!parsed.success) {
    throw new MalformedEventError(
      `not an EventBridge event: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

type Normalizer = (event: EventEnvelope) => Intent;

const ignore = (event: EventEnvelope, reason: string): IgnoreIntent => ({
  kind: 'ignore',
  eventId: event.id,
  reason,
});

/** EC2 "EC2 AMI State Change": `detail.ImageId`, `detail.State`. */
const amiStateChange: Normalizer = (event) => {
  const state = trimmed(event.detail['State']);
  const imageId = trimmed(event.detail['ImageId']);
  if (state !== 'available') return ignore(event, `AMI state is ${JSON.stringify(state)}, not "available"`);
  if (!isAmiId(imageId))
    return ignore(event, `detail.ImageId ${JSON.stringify(imageId)} is not a valid AMI id`);
  return { kind: 'rollout', source: 'ami-state-change', eventId: event.id, imageId };
};

/** SSM "Parameter Store Change": `detail.name`, `detail.operation`; the value is read later. */
const parameterStoreChange: Normalizer = (event) => {
  const name = trimmed(event.detail['name']);
  const operation = trimmed(event.detail['operation']);
  if (name === undefined) return ignore(event, 'detail.name is missing');
  if (operation !== 'Create' && operation !== 'Update') {
    return ignore(event, `parameter operation ${JSON.stringify(operation)} publishes no image`);
  }
  const channel = channelOfParameter(name);
  if (channel === undefined) {
    return ignore(
      event,
      `parameter ${JSON.stringify(name)} is not a channel parameter (${CHANNEL_PARAMETER_PREFIX}<channel>)`,
    );
  }
  return { kind: 'rollout', source: 'channel-parameter', eventId: event.id, parameterName: name, channel };
};

const publishImageSchema = z.object({
  imageId: z.string().check(z.trim()),
  channel: z.optional(z.string().check(z.trim())),
});

/** The Phoenix `PublishImage` command: `{ imageId, channel? }`. A malformed command is an error. */
const publishImage: Normalizer = (event) => {
  const parsed = publishImageSchema.safeParse(event.detail);
  if (!parsed.success) {
    throw new MalformedEventError(
      `PublishImage command ${event.id}: ${parsed.error.issues.map((i) => `detail.${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const { imageId, channel } = parsed.data;
  if (channel !== undefined && !NAME_PATTERN.test(channel)) {
    throw new MalformedEventError(
      `PublishImage command ${event.id}: detail.channel ${JSON.stringify(channel)} is not a valid channel name`,
    );
  }
  // An id that is not an AMI id still names the channel's fleets when a channel is given: the
  // rollout rejects it with a RolloutRejected outcome per fleet, so the operator hears back.
  if (!isAmiId(imageId) && channel === undefined) {
    throw new MalformedEventError(
      `PublishImage command ${event.id}: detail.imageId ${JSON.stringify(imageId)} is not a valid AMI id`,
    );
  }
  return {
    kind: 'rollout',
    source: 'publish-command',
    eventId: event.id,
    imageId,
    ...(channel !== undefined ? { channel } : {}),
  };
};

const normalizers: Record<string, Normalizer> = {
  'aws.ec2|EC2 AMI State Change': amiStateChange,
  'aws.ssm|Parameter Store Change': parameterStoreChange,
  [`${COMMAND_SOURCE}|${DetailTypes.PublishImage}`]: publishImage,
};

/** What an event means for Phoenix. Throws MalformedEventError for a payload that is not an event. */
export function normalizeEvent(raw: unknown): Intent {
  const event = parseEnvelope(raw);
  const normalizer = normalizers[`${event.source}|${event['detail-type']}`];
  if (normalizer === undefined) {
    return ignore(
      event,
      `no intake for source ${JSON.stringify(event.source)} and detail-type ${JSON.stringify(event['detail-type'])}`,
    );
  }
  return normalizer(event);
}
