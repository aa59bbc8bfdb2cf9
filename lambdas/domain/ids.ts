/** Identifier shapes. A value that is not a valid id is never acted upon. */

/** `ami-` and 8 or 17 lowercase hex digits. */
export const AMI_ID_PATTERN = /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export function isAmiId(value: unknown): value is string {
  return typeof value === 'string' && AMI_ID_PATTERN.test(value);
}
