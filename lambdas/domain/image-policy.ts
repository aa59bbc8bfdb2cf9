/**
 * Image policy: what an image must be before a rollout launches anything from it. Pure module:
 * `imageViolation` returns the first rule the image breaks, as a reason, or undefined.
 */

/** What the policy reads of an image (from EC2 DescribeImages). */
export interface ImagePolicyFacts {
  readonly imageId: string;
  readonly state: string;
  readonly ownerId?: string;
  readonly ownerAlias?: string;
  readonly architecture?: string;
  readonly virtualizationType?: string;
  /** ISO 8601. */
  readonly creationDate?: string;
  /** ISO 8601: the image is deprecated from then on. */
  readonly deprecationTime?: string;
}

/** The owner alias of images Amazon publishes. */
export const AMAZON_OWNER_ALIAS = 'amazon';

/**
 * Parse the allowlist of image owners (`PHOENIX_ALLOWED_IMAGE_OWNERS`): comma-separated 12-digit
 * account ids and the alias `amazon`. Throws a RangeError naming any other entry.
 */
export function parseAllowedOwners(raw: string): string[] {
  const owners = raw
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  const bad = owners.filter((o) => o !== AMAZON_OWNER_ALIAS && !/^\d{12}$/.test(o));
  if (bad.length > 0 || owners.length === 0) {
    throw new RangeError(
      `allowed image owners must be 12-digit account ids or "${AMAZON_OWNER_ALIAS}", got ${JSON.stringify(raw)}`,
    );
  }
  return owners;
}

/** Is the image owned by an allowed account (or by Amazon, when `amazon` is allowed)? */
export function ownerAllowed(image: ImagePolicyFacts, allowedOwners: readonly string[]): boolean {
  return (
    (image.ownerId !== undefined && allowedOwners.includes(image.ownerId)) ||
    (image.ownerAlias === AMAZON_OWNER_ALIAS && allowedOwners.includes(AMAZON_OWNER_ALIAS))
  );
}

const time = (iso: string | undefined) => (iso === undefined ? Number.NaN : Date.parse(iso));

/**
 * Why `image` must not replace `current` (the image of the fleet's launch template version), or
 * undefined when it may. Rules, in order: available, not disabled, owned by an allowed owner, not
 * deprecated at `now`, same architecture and virtualization type as the current image (when both
 * report one), and created strictly after the current image.
 *
 * Hook: an explicit rollback onto an older image (out of scope) would pass `allowOlder`.
 */
export function imageViolation(args: {
  readonly image: ImagePolicyFacts;
  readonly current?: ImagePolicyFacts;
  readonly allowedOwners: readonly string[];
  readonly now: Date;
  readonly allowOlder?: boolean;
}): string | undefined {
  const { image, current, allowedOwners, now } = args;
  const id = image.imageId;
  if (image.state === 'disabled') return `image ${id} is disabled`;
  if (image.state !== 'available') return `image ${id} is ${image.state}, not available`;
  if (!ownerAllowed(image, allowedOwners)) {
    const owner = image.ownerAlias
      ? `${image.ownerId ?? 'unknown'} (${image.ownerAlias})`
      : (image.ownerId ?? 'unknown');
    return `image ${id} is owned by ${owner}, not by an allowed owner (${allowedOwners.join(', ')})`;
  }
  const deprecated = time(image.deprecationTime);
  if (!Number.isNaN(deprecated) && deprecated <= now.getTime()) {
    return `image ${id} is deprecated since ${image.deprecationTime}`;
  }
  if (!current || current.imageId === id) return undefined;
  if (image.architecture && current.architecture && image.architecture !== current.architecture) {
    return `image ${id} is ${image.architecture} but the fleet runs ${current.architecture} (${current.imageId})`;
  }
  if (
    image.virtualizationType &&
    current.virtualizationType &&
    image.virtualizationType !== current.virtualizationType
  ) {
    return `image ${id} is ${image.virtualizationType} virtualization but the fleet runs ${current.virtualizationType} (${current.imageId})`;
  }
  if (!args.allowOlder) {
    const created = time(image.creationDate);
    const currentCreated = time(current.creationDate);
    if (!Number.isNaN(created) && !Number.isNaN(currentCreated) && created <= currentCreated) {
      return `image ${id} (created ${image.creationDate}) is not newer than the fleet's current image ${current.imageId} (created ${current.creationDate}); rolling back to an older image is not supported`;
    }
  }
  return undefined;
}
