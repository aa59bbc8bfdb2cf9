/**
 * The seed of the property tests (fast-check): `PHOENIX_PROPERTY_SEED` when set, else a fixed
 * default, so a CI run is deterministic. Each file prints it before its first property, and a
 * failure names the seed and the path that replays the shrunk counterexample.
 */
import fc from 'fast-check';

/** The default seed (any fixed integer: CI runs are deterministic). */
export const DEFAULT_PROPERTY_SEED = 20261201;

function seedFromEnv(): number {
  const raw = process.env['PHOENIX_PROPERTY_SEED'];
  if (raw === undefined || raw.trim() === '') return DEFAULT_PROPERTY_SEED;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`PHOENIX_PROPERTY_SEED must be an integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export const PROPERTY_SEED = seedFromEnv();

const printed = new Set<string>();

/** Print the seed once per file, with the command that replays it. */
export function announceSeed(file: string): void {
  if (printed.has(file)) return;
  printed.add(file);
  console.info(
    `[property] ${file}: seed ${PROPERTY_SEED} (replay: PHOENIX_PROPERTY_SEED=${PROPERTY_SEED} npx vitest run ${file})`,
  );
}

/**
 * fast-check's parameters for a property of `file`: the seed, `numRuns`, and a failure message
 * that says how to replay it (fast-check's own report carries the seed, the path and the shrunk
 * counterexample).
 */
export function propertyParameters<T>(file: string, numRuns: number): fc.Parameters<T> {
  announceSeed(file);
  return {
    seed: PROPERTY_SEED,
    numRuns,
    includeErrorInReport: true,
    reporter: (details) => {
      if (!details.failed) return;
      const report = fc.defaultReportMessage(details);
      throw new Error(
        `${report ?? 'property failed'}\n\nReplay: PHOENIX_PROPERTY_SEED=${PROPERTY_SEED} npx vitest run ${file}` +
          ` (fast-check seed ${details.seed}, path ${JSON.stringify(details.counterexamplePath)})`,
      );
    },
  };
}

/** As `propertyParameters`, for an async property. */
export function asyncPropertyParameters<T>(file: string, numRuns: number): fc.Parameters<T> {
  announceSeed(file);
  return {
    seed: PROPERTY_SEED,
    numRuns,
    includeErrorInReport: true,
    asyncReporter: async (details) => {
      if (!details.failed) return;
      const report = await fc.asyncDefaultReportMessage(details);
      throw new Error(
        `${report ?? 'property failed'}\n\nReplay: PHOENIX_PROPERTY_SEED=${PROPERTY_SEED} npx vitest run ${file}` +
          ` (fast-check seed ${details.seed}, path ${JSON.stringify(details.counterexamplePath)})`,
      );
    },
  };
}
