/**
 * `phoenix release <image> [--reason <text>]`: an operator clears an image's quarantine (issue 13
 * §3). The AMI's `phoenix:quarantined` tag is removed (every channel's rollouts accept the image
 * again), the release is recorded on the image's record `IMAGE#<imageId>` with who (the caller
 * identity ARN, STS GetCallerIdentity), when and why, and `ImageReleased` is put on the Phoenix
 * bus. An image that is not quarantined is left as it is (exit 0, nothing recorded).
 *
 * Safe to run again: a release that stopped half-way (tag removed, record not yet written)
 * finishes on the next run, because the record still holds the quarantine.
 */
import { DetailTypes } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import { isAmiId } from '../lambdas/domain/ids';
import { type ImageQuarantine, quarantineOf } from '../lambdas/domain/quarantine';
import { callerArn } from '../lambdas/aws/caller-identity';
import { describeImage } from '../lambdas/aws/fleets';
import { untagImageQuarantined } from '../lambdas/aws/images';
import { putOutcome } from '../lambdas/aws/outcomes';
import { readImageRecord, recordRelease } from '../lambdas/aws/store/images';
import { useBus } from './pause';

export interface ReleaseReport {
  readonly imageId: string;
  /** Was it quarantined (the tag, or the record)? false: nothing was changed. */
  readonly wasQuarantined: boolean;
  /** The tag's value before the release (null: the AMI had no quarantine tag). */
  readonly tag: string | null;
  /** The quarantine the record held (null: none recorded). */
  readonly quarantine: ImageQuarantine | null;
  readonly releasedBy: string | null;
  readonly at: string | null;
  readonly reason: string | null;
}

export interface ReleaseOptions {
  readonly reason?: string;
  readonly eventBusName?: string;
  readonly now?: Date;
}

/** The `<image>` argument: an AMI id, or a usage error (exit 2). */
export function checkImageId(imageId: string): string {
  if (!isAmiId(imageId)) {
    throw new ConfigurationError(`not an AMI id: ${JSON.stringify(imageId)} (expected ami-<hex>)`);
  }
  return imageId;
}

export async function releaseImage(imageId: string, options: ReleaseOptions = {}): Promise<ReleaseReport> {
  checkImageId(imageId);
  useBus(options.eventBusName);
  const image = await describeImage(imageId);
  if (image === undefined) {
    throw new ConfigurationError(`image ${imageId} does not exist (or is not visible to this account)`);
  }
  const tag = quarantineOf(image.tags) ?? null;
  const record = await readImageRecord(imageId);
  const quarantine = record?.quarantine ?? null;
  if (tag === null && quarantine === null) {
    return { imageId, wasQuarantined: false, tag, quarantine, releasedBy: null, at: null, reason: null };
  }
  const now = options.now ?? new Date();
  const releasedBy = await callerArn();
  const reason = options.reason?.trim() || 'released by an operator (phoenix release)';
  const at = now.toISOString();
  if (tag !== null) await untagImageQuarantined(imageId);
  await recordRelease(imageId, { by: releasedBy, at, reason }, now);
  const quarantineReason = quarantine?.reason ?? tag ?? undefined;
  await putOutcome(DetailTypes.ImageReleased, {
    imageId,
    releasedBy,
    at,
    reason,
    ...(quarantineReason !== undefined ? { quarantineReason } : {}),
    ...(quarantine !== null ? { quarantinedAt: quarantine.at } : {}),
  });
  return { imageId, wasQuarantined: true, tag, quarantine, releasedBy, at, reason };
}

/** A few lines for a terminal. */
export function renderRelease(report: ReleaseReport): string {
  if (!report.wasQuarantined) return `image ${report.imageId} is not quarantined: nothing to release`;
  const why = report.quarantine
    ? `quarantined ${report.quarantine.at} (${report.quarantine.reason}${report.quarantine.fleet !== undefined ? `, fleet ${report.quarantine.fleet}` : ''}, execution ${report.quarantine.execution})`
    : `tagged quarantined (${report.tag ?? 'unknown'}), no record`;
  return [
    `image ${report.imageId}: released by ${report.releasedBy} at ${report.at} (${report.reason})`,
    `  was ${why}`,
    '  ImageReleased reported; rollouts of every channel accept the image again (publish it to roll it)',
  ].join('\n');
}
