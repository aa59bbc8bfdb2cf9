/**
 * Seeded randomness, one stream per fault site: each site's generator is derived from the seed
 * and the site's name (SHA-256), so adding a site, or a decision at another site, never shifts the
 * decisions of this one. The generator is sfc32 (small, fast, 128 bits of state).
 */
import { createHash } from 'node:crypto';

export type Random = () => number;

/** A generator of floats in [0, 1) for `site`, from `seed`. */
export function siteRandom(seed: number, site: string): Random {
  const digest = createHash('sha256')
    .update(`${String(seed)}\u0000${site}`)
    .digest();
  let a = digest.readUInt32LE(0);
  let b = digest.readUInt32LE(4);
  let c = digest.readUInt32LE(8);
  let d = digest.readUInt32LE(12);
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next(); // sfc32's warm-up
  return next;
}
