import { describe, expect, it } from 'vitest';
import {
  imageViolation,
  type ImagePolicyFacts,
  ownerAllowed,
  parseAllowedOwners,
} from '../../lambdas/domain/image-policy';

const ACCOUNT = '123456789012';
const now = new Date('2026-11-27T12:00:00Z');
const current: ImagePolicyFacts = {
  imageId: 'ami-00000000000000001',
  state: 'available',
  ownerId: ACCOUNT,
  architecture: 'x86_64',
  virtualizationType: 'hvm',
  creationDate: '2026-11-01T00:00:00.000Z',
};
const image: ImagePolicyFacts = {
  ...current,
  imageId: 'ami-00000000000000002',
  creationDate: '2026-11-20T00:00:00.000Z',
};
const allowedOwners = [ACCOUNT, 'amazon'];
const check = (
  overrides: Partial<ImagePolicyFacts>,
  extra: Partial<Parameters<typeof imageViolation>[0]> = {},
) => imageViolation({ image: { ...image, ...overrides }, current, allowedOwners, now, ...extra });

describe('imageViolation', () => {
  it('accepts an available, allowed, newer image of the same architecture and virtualization', () => {
    expect(check({})).toBeUndefined();
  });

  it('rejects an image that is not available', () => {
    expect(check({ state: 'pending' })).toBe('image ami-00000000000000002 is pending, not available');
    expect(check({ state: 'failed' })).toContain('is failed, not available');
  });

  it('rejects a disabled image', () => {
    expect(check({ state: 'disabled' })).toBe('image ami-00000000000000002 is disabled');
  });

  it('rejects an image of an owner not allowed, naming the owner and the allowlist', () => {
    expect(check({ ownerId: '999999999999' })).toBe(
      'image ami-00000000000000002 is owned by 999999999999, not by an allowed owner (123456789012, amazon)',
    );
    expect(check({ ownerId: undefined })).toContain('owned by unknown');
  });

  it("accepts Amazon's images when `amazon` is allowed, and only then", () => {
    const amazon = { ownerId: '137112412989', ownerAlias: 'amazon' };
    expect(check(amazon)).toBeUndefined();
    expect(check(amazon, { allowedOwners: [ACCOUNT] })).toContain('owned by 137112412989 (amazon)');
    // An alias other than amazon does not count.
    expect(check({ ownerId: '111111111111', ownerAlias: 'aws-marketplace' })).toContain(
      'not by an allowed owner',
    );
  });

  it('rejects a deprecated image (deprecation time in the past), not one deprecated later', () => {
    expect(check({ deprecationTime: '2026-11-27T11:59:59.000Z' })).toBe(
      'image ami-00000000000000002 is deprecated since 2026-11-27T11:59:59.000Z',
    );
    expect(check({ deprecationTime: '2026-11-27T12:00:00.000Z' })).toContain('deprecated');
    expect(check({ deprecationTime: '2027-01-01T00:00:00.000Z' })).toBeUndefined();
  });

  it("rejects an image of another architecture than the fleet's", () => {
    expect(check({ architecture: 'arm64' })).toBe(
      'image ami-00000000000000002 is arm64 but the fleet runs x86_64 (ami-00000000000000001)',
    );
  });

  it("rejects an image of another virtualization type than the fleet's", () => {
    expect(check({ virtualizationType: 'paravirtual' })).toContain(
      'is paravirtual virtualization but the fleet runs hvm',
    );
  });

  it('skips the architecture and virtualization rules when either image does not report them', () => {
    expect(check({ architecture: undefined, virtualizationType: undefined })).toBeUndefined();
  });

  it('rejects an image older than the current one, or created at the same time', () => {
    expect(check({ creationDate: '2026-10-01T00:00:00.000Z' })).toContain(
      "is not newer than the fleet's current image ami-00000000000000001",
    );
    expect(check({ creationDate: current.creationDate })).toContain('not newer');
    // The hook for an explicit rollback (out of scope): older images pass with allowOlder.
    expect(check({ creationDate: '2026-10-01T00:00:00.000Z' }, { allowOlder: true })).toBeUndefined();
  });

  it('applies the rules in order: state, owner, deprecation, architecture, age', () => {
    expect(check({ state: 'pending', ownerId: '999999999999' })).toContain('not available');
    expect(check({ ownerId: '999999999999', architecture: 'arm64' })).toContain('owned by');
    expect(check({ architecture: 'arm64', creationDate: '2020-01-01T00:00:00.000Z' })).toContain('arm64');
  });

  it('with no current image (or the same image), checks only the image itself', () => {
    expect(
      imageViolation({ image: { ...image, architecture: 'arm64' }, allowedOwners, now }),
    ).toBeUndefined();
    expect(imageViolation({ image: current, current, allowedOwners, now })).toBeUndefined();
  });
});

describe('owners', () => {
  it('parses the allowlist', () => {
    expect(parseAllowedOwners(` ${ACCOUNT}, amazon `)).toEqual([ACCOUNT, 'amazon']);
    expect(() => parseAllowedOwners('12345,amazon')).toThrow(/"12345,amazon"/);
    expect(() => parseAllowedOwners('self')).toThrow(RangeError);
    expect(() => parseAllowedOwners('')).toThrow(RangeError);
  });

  it('matches by account id or by the amazon alias', () => {
    expect(ownerAllowed({ ...image, ownerId: ACCOUNT }, [ACCOUNT])).toBe(true);
    expect(ownerAllowed({ ...image, ownerId: '1', ownerAlias: 'amazon' }, ['amazon'])).toBe(true);
    expect(ownerAllowed({ ...image, ownerId: '1', ownerAlias: 'amazon' }, [ACCOUNT])).toBe(false);
  });
});
