/**
 * Intake: from an incoming event to what it starts. Normalization is pure (domain/intake); this
 * resolves what the event does not carry from real state (the AMI's channel, the parameter's
 * value, the AMI Image Builder built, the fleets that follow a channel or a parameter, the fleet of
 * an instance), starts one Rollout per fleet, and says on the Phoenix bus what it did not act on.
 * Each event is handled once (idempotency records in the fleet table).
 */
import * as clock from '../domain/clock';
import { DetailTypes, Env, Tags } from '../domain/contract';
import { TransientAwsError } from '../domain/errors';
import {
  DEFAULT_INTAKE_CONFIG,
  type DrainIntent,
  type IntakeConfig,
  type Intent,
  normalizeEvent,
  parseEnvelope,
  type ReplaceIntent,
  type RolloutIntent,
} from '../domain/intake';
import { replaceExecutionName } from '../domain/replace';
import { executionName } from '../domain/rollout';
import {
  describeImage,
  fleetsFollowing,
  fleetsFollowingParameter,
  fleetsOfInstances,
  imageOfBuild,
  type ManagedGroup,
} from '../aws/fleets';
import { startDrain, startReplace, startRollout, startValidate } from '../aws/executions';
import { readImageRecord } from '../aws/store/images';
import {
  parseValidationChannels,
  type ValidateInput,
  validateExecutionName,
  type ValidationConfig,
} from '../domain/validation';
import { drainExecutionName } from '../domain/drain';
import { readParameter } from '../aws/parameters';
import { putOutcome } from '../aws/outcomes';
import { claimEvent, settleEvent } from '../aws/store/events';
import { readFleetRecord } from '../aws/store/fleet-records';
import { unpinFleet } from '../aws/store/holds';

export interface IntakeResult {
  readonly intent: Intent['kind'];
  readonly reason?: string;
  readonly imageId?: string;
  readonly channel?: string;
  readonly started: { fleet: string; execution: string; duplicate: boolean }[];
  /** Fleets that follow the channel but were not rolled (paused, pinned by a rollback), with why. */
  readonly held?: { fleet: string; reason: string }[];
  readonly replacements?: {
    instanceId: string;
    fleet?: string;
    requested: boolean;
    /** The Replace execution (deterministic per instance). */
    execution?: string;
    /** A replacement of this instance was started before: nothing new started. */
    duplicate?: boolean;
  }[];
  /** A termination lifecycle action handed to the Drain workflow. */
  readonly drain?: { instanceId: string; execution: string; duplicate: boolean };
  /**
   * The channel validates images first (issue 13 §2): the Validate execution started instead of
   * the rollouts (it starts them once the image passed).
   */
  readonly validation?: { execution: string; duplicate: boolean };
  /** The event was handled before (a duplicate delivery): nothing was done again. */
  readonly duplicateEvent?: boolean;
}

/** The intake's configuration, from its environment (set by the CDK app). */
export function intakeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): IntakeConfig {
  const split = (value: string | undefined) =>
    value === undefined
      ? undefined
      : value
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  return {
    healthAlarmPrefixes: split(env[Env.healthAlarmPrefixes]) ?? DEFAULT_INTAKE_CONFIG.healthAlarmPrefixes,
    ownRoleNames: split(env[Env.ownRoleNames]) ?? DEFAULT_INTAKE_CONFIG.ownRoleNames,
  };
}

/** An earlier delivery of the same event is being handled right now: retry later. */
export class EventInProgressError extends TransientAwsError {}

export interface Publication {
  readonly imageId: string;
  readonly channel: string;
  readonly fleets: ManagedGroup[];
}

/** The image, its channel and the fleets that follow it; or the reason there is nothing to roll. */
async function resolvePublication(
  intent: RolloutIntent,
): Promise<Publication | { ignore: string; imageId?: string; channel?: string }> {
  if (intent.parameterName !== undefined) {
    const value = await readParameter(intent.parameterName);
    if (value === undefined) return { ignore: `parameter ${intent.parameterName} no longer exists` };
    // Whatever the value is, the fleets hear of it: an invalid id is rejected per fleet.
    if (intent.channel !== undefined) {
      return { imageId: value, channel: intent.channel, fleets: await fleetsFollowing(intent.channel) };
    }
    const fleets = await fleetsFollowingParameter(intent.parameterName);
    return { imageId: value, channel: intent.parameterName, fleets };
  }
  let imageId = intent.imageId;
  let channel = intent.channel;
  if (intent.imageBuilderArn !== undefined) {
    const built = await imageOfBuild(intent.imageBuilderArn);
    if (!built)
      return {
        ignore: `no AMI in this account and region carries Ec2ImageBuilderArn=${intent.imageBuilderArn}`,
      };
    imageId = built.imageId;
    channel ??= built.tags[Tags.channel]?.trim() || undefined;
    if (channel === undefined) {
      return {
        ignore: `image ${imageId} (built as ${intent.imageBuilderArn}) has no ${Tags.channel} tag: it belongs to no channel`,
        imageId,
      };
    }
  }
  if (imageId === undefined) return { ignore: 'the publication names no image' };
  if (channel === undefined) {
    const image = await describeImage(imageId);
    if (!image) return { ignore: `image ${imageId} does not exist`, imageId };
    channel = image.tags[Tags.channel]?.trim() || undefined;
    if (channel === undefined)
      return { ignore: `image ${imageId} has no ${Tags.channel} tag: it belongs to no channel`, imageId };
  }
  return { imageId, channel, fleets: await fleetsFollowing(channel) };
}

async function handleRollout(intent: RolloutIntent, cause: string): Promise<IntakeResult> {
  const publication = await resolvePublication(intent);
  if ('ignore' in publication) {
    await putOutcome(DetailTypes.PublicationIgnored, {
      eventId: intent.eventId,
      reason: publication.ignore,
      ...(publication.imageId !== undefined ? { imageId: publication.imageId } : {}),
    });
    return { intent: 'ignore', reason: publication.ignore, started: [] };
  }
  const { imageId, channel, fleets } = publication;
  if (fleets.length === 0) {
    const reason =
      intent.source === 'image-parameter'
        ? `no fleet follows parameter ${channel} (tag ${Tags.imageParameter})`
        : `no fleet follows channel ${channel}`;
    await putOutcome(DetailTypes.PublicationIgnored, { eventId: intent.eventId, imageId, channel, reason });
    return { intent: 'ignore', reason, imageId, channel, started: [] };
  }
  const validation = validationChannels()[channel];
  if (validation !== undefined && intent.source !== 'image-parameter') {
    const routed = await validateFirst(intent, { imageId, channel }, validation, cause);
    if (routed !== undefined) return routed;
  }
  const rolled = await rollPublication({ imageId, channel, fleets }, intent, cause);
  return {
    intent: 'rollout',
    reason: intent.reason,
    imageId,
    channel,
    ...rolled,
  };
}

/** The channels with post-creation validation (from the intake's environment, set by the CDK app). */
function validationChannels(): Readonly<Record<string, ValidationConfig>> {
  return parseValidationChannels(process.env[Env.validationChannels]);
}

/**
 * A channel with validation (issue 13 §2): an image not yet validated is handed to the Validate
 * workflow (one execution per image and channel), which starts the rollouts once it passes. An
 * image validated before rolls as usual; a quarantined one too (every rollout rejects it, saying
 * why); one whose validation failed without quarantine (the validation could not run) is not
 * rolled: its Validate execution stands (it reported ImageValidationFailed).
 */
async function validateFirst(
  intent: RolloutIntent,
  publication: { imageId: string; channel: string },
  validation: ValidationConfig,
  cause: string,
): Promise<IntakeResult | undefined> {
  const { imageId, channel } = publication;
  const record = await readImageRecord(imageId);
  if (record?.validation?.status === 'validated' || record?.quarantine !== undefined) return undefined;
  const execution = validateExecutionName(channel, imageId);
  const input: ValidateInput = {
    imageId,
    channel,
    validation,
    requestId: intent.eventId,
    source: intent.source,
    cause,
    reason: intent.reason,
  };
  const started = await startValidate(execution, input);
  return {
    intent: 'rollout',
    reason: intent.reason,
    imageId,
    channel,
    started: [],
    validation: { execution, duplicate: started.duplicate },
  };
}

/** What a publication is (for the fan-out): its event, its source, why. */
export type PublicationEvent = Pick<RolloutIntent, 'eventId' | 'source' | 'reason'>;

/**
 * The fan-out of a publication: one Rollout per fleet following the channel, named after the
 * fleet, the image and the publication's event (a repeat starts nothing), unless the fleet is
 * paused or pinned by a rollback (reported PublicationIgnored). The intake calls it, and the
 * Validate workflow once the image passed (with the same event: the same execution names).
 */
export async function rollPublication(
  publication: Publication,
  intent: PublicationEvent,
  cause: string,
): Promise<Pick<IntakeResult, 'started' | 'held'>> {
  const { imageId, channel, fleets } = publication;
  const started = [];
  const held: { fleet: string; reason: string }[] = [];
  for (const { fleet } of fleets) {
    // A paused fleet starts nothing; a fleet pinned by a rollback ignores publications until an
    // explicit PublishImage (which releases the pin) or `phoenix unpin`.
    const record = await readFleetRecord(fleet);
    const hold =
      record?.paused !== undefined
        ? `fleet ${fleet} is paused since ${record.paused.at} (${record.paused.reason}): run phoenix resume ${fleet}`
        : record?.pinnedImage !== undefined && intent.source !== 'publish-command'
          ? `fleet ${fleet} is pinned to ${record.pinnedImage.imageId} by a rollback (execution ${record.pinnedImage.execution}, since ${record.pinnedImage.at}): publish an image explicitly (PublishImage on the Phoenix bus) or run phoenix unpin ${fleet} to release it`
          : undefined;
    if (hold !== undefined) {
      await putOutcome(DetailTypes.PublicationIgnored, {
        eventId: intent.eventId,
        imageId,
        channel,
        fleet,
        reason: hold,
      });
      held.push({ fleet, reason: hold });
      continue;
    }
    if (record?.pinnedImage !== undefined) {
      const released = await unpinFleet(fleet, clock.now());
      if (released !== undefined) {
        await putOutcome(DetailTypes.FleetUnpinned, {
          fleet,
          imageId: released.imageId,
          pinnedAt: released.at,
          reason: `released by an explicit PublishImage of ${imageId} (event ${intent.eventId})`,
        });
      }
    }
    const name = executionName(fleet, imageId, intent.eventId);
    const result = await startRollout(name, { fleet, imageId, channel, cause, requestId: intent.eventId });
    started.push({ fleet, execution: name, duplicate: result.duplicate });
  }
  return { started, ...(held.length > 0 ? { held } : {}) };
}

/**
 * Resolve each instance to its fleet. A managed one is handed to a Replace execution, named after
 * the instance so that repeated events replace it once (the workflow reports how it ends); any
 * other is reported (`ReplacementSkipped`) and touched in no way.
 */
async function handleReplace(intent: ReplaceIntent): Promise<IntakeResult> {
  // When the instances were looked at: an attempt that ended after it knows more (startReplace).
  const lookedAt = clock.now();
  const fleets = await fleetsOfInstances(intent.instanceIds);
  const replacements = [];
  for (const instanceId of intent.instanceIds) {
    const managed = fleets.get(instanceId);
    if (managed) {
      // A new attempt after one that ended without replacing it, only while it is still serving.
      const inService = managed.group.Instances?.some(
        (i) => i.InstanceId === instanceId && i.LifecycleState === 'InService',
      );
      const started = await startReplace(
        replaceExecutionName(managed.fleet, instanceId),
        {
          fleet: managed.fleet,
          instanceId,
          cause: intent.cause,
          reason: intent.reason,
          requestId: intent.eventId,
          // Without a valid event time, the need was seen now.
          detectedAt: intent.detectedAt ?? clock.now().toISOString(),
        },
        { reattempt: inService === true, observedAt: lookedAt },
      );
      replacements.push({
        instanceId,
        fleet: managed.fleet,
        requested: true,
        execution: started.execution,
        duplicate: started.duplicate,
      });
    } else {
      await putOutcome(DetailTypes.ReplacementSkipped, {
        instanceId,
        cause: intent.cause,
        reason: `instance ${instanceId} is not in a managed fleet (no Auto Scaling group tagged ${Tags.fleet} holds it)`,
        eventId: intent.eventId,
      });
      replacements.push({ instanceId, requested: false });
    }
  }
  return { intent: 'replace', reason: intent.reason, started: [], replacements };
}

/**
 * A termination lifecycle action of Phoenix's hook: one Drain execution, named after the instance
 * and the action's token (a redelivery starts nothing). The workflow flushes and completes the action.
 */
async function handleDrain(intent: DrainIntent): Promise<IntakeResult> {
  const execution = drainExecutionName(intent.instanceId, intent.token);
  const started = await startDrain(execution, {
    instanceId: intent.instanceId,
    groupName: intent.groupName,
    hookName: intent.hookName,
    token: intent.token,
    requestId: intent.eventId,
  });
  return {
    intent: 'drain',
    reason: intent.reason,
    started: [],
    drain: { instanceId: intent.instanceId, execution, duplicate: started.duplicate },
  };
}

export async function runIntake(
  event: unknown,
  config: IntakeConfig = intakeConfigFromEnv(),
  /** How long the claim of the event holds: the invocation's remaining time (default 120 s). */
  claimSeconds?: number,
): Promise<IntakeResult> {
  const intent = normalizeEvent(event, config);
  if (intent.kind === 'ignore') return { intent: 'ignore', reason: intent.reason, started: [] };

  const claim = await claimEvent(
    intent.eventId,
    clock.now(),
    claimSeconds !== undefined && Number.isFinite(claimSeconds) ? Math.max(1, claimSeconds) : undefined,
  );
  if (claim === 'done')
    return { intent: intent.kind, reason: intent.reason, started: [], duplicateEvent: true };
  if (claim === 'in-progress') {
    throw new EventInProgressError(
      `event ${intent.eventId} is being handled by another delivery; retry later`,
    );
  }
  try {
    const envelope = parseEnvelope(event);
    const result =
      intent.kind === 'rollout'
        ? await handleRollout(intent, `${envelope.source}/${envelope['detail-type']}`)
        : intent.kind === 'drain'
          ? await handleDrain(intent)
          : await handleReplace(intent);
    await settleEvent(intent.eventId, 'COMPLETED');
    return result;
  } catch (error) {
    await settleEvent(intent.eventId, 'FAILED').catch(() => undefined);
    throw error;
  }
}
