/**
 * Channels as the control plane's props declare them (issue 13): a channel may be promoted from
 * an upstream channel (promotion: lib/capabilities/promotion.ts) and may validate every image
 * before its fleets see it (validation: lib/capabilities/validation.ts). A channel that is not
 * named here works as before: it is the stream of images published to it.
 *
 *   channels: {
 *     staging: { validation: { group: 'web-validation', testDocument: 'web-smoke' } },
 *     prod: { promoteFrom: 'staging', after: Duration.hours(4), approval: true },
 *   }
 */
import type { Duration } from 'aws-cdk-lib';

/** One channel's declaration. Every field is optional; `{}` declares the channel and changes nothing. */
export interface ChannelProps {
  // --- promotion (issue 13 §1) -------------------------------------------------------------------
  /**
   * The upstream channel this channel's images come from. An image is promoted from there when
   * the evidence of every fleet following the upstream channel says so (docs/promotion.md).
   * @default - none: images are published to this channel directly
   */
  readonly promoteFrom?: string;
  /**
   * How long every upstream fleet must have run the image, fully rolled, before it is promoted.
   * @default Duration.hours(4)
   */
  readonly after?: Duration;
  /**
   * An operator must approve each image before it is promoted (`phoenix approve <channel> <image>`).
   * @default false
   */
  readonly approval?: boolean;
  /**
   * When promotions may happen (UTC), e.g. `{ days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], fromHour: 9, toHour: 16 }`.
   * @default - any time
   */
  readonly window?: PromotionWindowProps;
  /**
   * How many replacements of cause `health` (all upstream fleets together) are tolerated while the
   * upstream fleets run the image; more block the promotion (`PromotionBlocked`).
   * @default 0
   */
  readonly maxHealthReplacements?: number;
  // --- post-creation image validation (issue 13 §2) ---------------------------------------------
  /**
   * Validate each image before this channel's fleets see it (once per image).
   * @default - no validation
   */
  readonly validation?: ImageValidationProps;
}

/** A promotion window, UTC: on `days` (default every day), from `fromHour` (included) to `toHour` (excluded). */
export interface PromotionWindowProps {
  /**
   * The weekdays: `Sun`, `Mon`, `Tue`, `Wed`, `Thu`, `Fri`, `Sat`.
   * @default - every day
   */
  readonly days?: readonly ('Sun' | 'Mon' | 'Tue' | 'Wed' | 'Thu' | 'Fri' | 'Sat')[];
  /** 0..23 (UTC). */
  readonly fromHour: number;
  /** 1..24 (UTC), greater than `fromHour`. */
  readonly toHour: number;
}

/** Post-creation image validation: one instance launched from the image, the deployer's test run on it. */
export interface ImageValidationProps {
  /**
   * The Auto Scaling group (its name) the validation instance is launched in. Phoenix manages its
   * capacity (0 at rest, 1 while validating) and its launch template version.
   */
  readonly group: string;
  /**
   * The SSM document run on the validation instance: the image passes when the command ends
   * `Success`. Named here (not by a tag at run time) so that the validate role may run this
   * document only. At least one of `testDocument` and `testFunction` is required.
   * @default - no SSM test
   */
  readonly testDocument?: string;
  /**
   * A Lambda function (name or ARN) called with `{ imageId, instanceId, privateIpAddress }`: the
   * image passes when it answers `{ passed: true }` (its answer is the test's output).
   * @default - no test function
   */
  readonly testFunction?: string;
  /**
   * How long a validation may take, from the start to the test's verdict (the instance launched,
   * healthy, the test run); past it the image fails validation (timed out).
   * @default Duration.minutes(30)
   */
  readonly timeout?: Duration;
}
