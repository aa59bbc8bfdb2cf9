/**
 * `phoenix approve <channel> <image>`: approve the promotion of an image into a channel whose rule
 * asks for an approval (`approval: true`). Written on the channel's record in the fleet table
 * (`CHANNEL#<channel>`: who — the caller's identity ARN from STS GetCallerIdentity — and when; the
 * first approval of an image is kept) and announced on the Phoenix bus (`PromotionApproved`). The
 * next promotion check promotes the image if the rest of the evidence holds.
 *
 * The environment says where (see cli/target.ts); the bus is `--event-bus-name`, else
 * `$PHOENIX_EVENT_BUS_NAME`, else `phoenix`.
 */
import { DetailTypes, NAME_PATTERN } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import { readChannelRecord, recordApproval } from '../lambdas/aws/channels';
import { callerArn } from '../lambdas/aws/caller-identity';
import { putOutcome } from '../lambdas/aws/outcomes';
import { useBus } from './pause';

export const IMAGE_ID_PATTERN = /^ami-[0-9a-f]{8,17}$/;

export interface ApproveReport {
  readonly channel: string;
  readonly imageId: string;
  readonly by: string;
  readonly at: string;
  /** It was approved before: that approval (who, when) was kept, nothing announced. */
  readonly alreadyApproved: boolean;
  /** The channel's rule as the promotion check last recorded it (absent: no check has seen it yet). */
  readonly promoteFrom?: string;
  readonly approvalRequired?: boolean;
}

export async function approveCommand(
  channel: string,
  imageId: string,
  options: { eventBusName?: string; now?: Date } = {},
): Promise<ApproveReport> {
  if (!NAME_PATTERN.test(channel)) {
    throw new ConfigurationError(
      `not a channel name: ${JSON.stringify(channel)} (expected ${String(NAME_PATTERN)})`,
    );
  }
  if (!IMAGE_ID_PATTERN.test(imageId)) {
    throw new ConfigurationError(`not an image id: ${JSON.stringify(imageId)} (expected ami-…)`);
  }
  useBus(options.eventBusName);
  const now = options.now ?? new Date();
  const by = await callerArn();
  const applied = await recordApproval(channel, imageId, by, now);
  const record = await readChannelRecord(channel);
  const kept = record.approvals[imageId] ?? { by, at: now.toISOString() };
  if (applied) {
    await putOutcome(DetailTypes.PromotionApproved, { channel, imageId, by: kept.by, at: kept.at });
  }
  return {
    channel,
    imageId,
    by: kept.by,
    at: kept.at,
    alreadyApproved: !applied,
    ...(record.rule !== undefined
      ? { promoteFrom: record.rule.promoteFrom, approvalRequired: record.rule.approval }
      : {}),
  };
}

export function renderApprove(report: ApproveReport): string {
  const head = report.alreadyApproved
    ? `channel ${report.channel}: ${report.imageId} was already approved by ${report.by} at ${report.at}; nothing changed`
    : `channel ${report.channel}: ${report.imageId} approved by ${report.by}; PromotionApproved reported. The next promotion check promotes it if the evidence holds`;
  if (report.promoteFrom === undefined) {
    return `${head}\nnote: no promotion check has recorded a rule for ${report.channel} yet (is it declared with promoteFrom?)`;
  }
  return report.approvalRequired === false
    ? `${head}\nnote: ${report.channel}'s rule does not ask for an approval`
    : head;
}
