/**
 * Intake: from an incoming event to the rollouts it starts. Normalization is pure (domain/intake);
 * this resolves what the event does not carry (the AMI's channel, the parameter's value, the
 * fleets that follow the channel) from real state, and starts one Rollout per fleet.
 */
import { DetailTypes, Tags } from '../domain/contract';
import { type Intent, normalizeEvent, parseEnvelope, type RolloutIntent } from '../domain/intake';
import { executionName } from '../domain/rollout';
import { describeImage, fleetsFollowing } from '../aws/fleets';
import { startRollout } from '../aws/executions';
import { readParameter } from '../aws/parameters';
import { putOutcome } from '../aws/store';

export interface IntakeResult {
  readonly intent: Intent['kind'];
  readonly reason?: string;
  readonly imageId?: string;
  readonly channel?: string;
  readonly started: { fleet: string; execution: string; duplicate: boolean }[];
}

/** Channel and image of a publication, or the reason there is nothing to roll. */
async function resolvePublication(
  intent: RolloutIntent,
): Promise<{ imageId: string; channel: string } | { ignore: string }> {
  if (intent.parameterName !== undefined && intent.channel !== undefined) {
    const value = await readParameter(intent.parameterName);
    if (value === undefined) return { ignore: `parameter ${intent.parameterName} no longer exists` };
    // Whatever the value is, the channel's fleets hear of it: an invalid id is rejected per fleet.
    return { imageId: value, channel: intent.channel };
  }
  const imageId = intent.imageId!;
  if (intent.channel !== undefined) return { imageId, channel: intent.channel };
  const image = await describeImage(imageId);
  if (!image) return { ignore: `image ${imageId} does not exist` };
  const channel = image.tags[Tags.channel]?.trim();
  if (!channel) return { ignore: `image ${imageId} has no ${Tags.channel} tag: it belongs to no channel` };
  return { imageId, channel };
}

export async function runIntake(event: unknown): Promise<IntakeResult> {
  const intent = normalizeEvent(event);
  if (intent.kind === 'ignore') return { intent: 'ignore', reason: intent.reason, started: [] };

  const envelope = parseEnvelope(event);
  const publication = await resolvePublication(intent);
  if ('ignore' in publication) {
    await putOutcome(DetailTypes.PublicationIgnored, { eventId: intent.eventId, reason: publication.ignore });
    return { intent: 'ignore', reason: publication.ignore, started: [] };
  }
  const { imageId, channel } = publication;
  const fleets = await fleetsFollowing(channel);
  if (fleets.length === 0) {
    const reason = `no fleet follows channel ${channel}`;
    await putOutcome(DetailTypes.PublicationIgnored, { eventId: intent.eventId, imageId, channel, reason });
    return { intent: 'ignore', reason, imageId, channel, started: [] };
  }
  const started = [];
  for (const { fleet } of fleets) {
    const name = executionName(fleet, imageId, intent.eventId);
    const result = await startRollout(name, {
      fleet,
      imageId,
      channel,
      cause: `${envelope.source}/${envelope['detail-type']}`,
      requestId: intent.eventId,
    });
    started.push({ fleet, execution: name, duplicate: result.duplicate });
  }
  return { intent: 'rollout', imageId, channel, started };
}
