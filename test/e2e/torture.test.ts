/**
 * The small torture run (bench/torture.ts) in `npm test`: 5 fleets (rolling and blue-green, a
 * canary, gating alarms, a target group, min-healthy 50 %, disruption budgets), 15 publications
 * of new, older, duplicate and broken images, 15 replacement events (the published samples),
 * pauses and resumes, the world's chaos (kills, a bad zone, Spot interruptions, an alarm), boot
 * time on, the reconcile schedule on — watched throughout by the invariant observer
 * (local/invariants), which reads only the emulator and Step Functions. The verdict: no invariant
 * violated, no orphan, every event accounted for.
 *
 * Seeded: the seed is printed, and `npx tsx bench/torture.ts --seed <seed> --fleets 5 --rollouts
 * 15 --replacements 15 --no-faults` replays the mix (the interleaving with the workflows' timing
 * may differ; the verdict must not).
 */
import { expect, inject, it } from 'vitest';
import { resetEmulator } from '../../local/emulator';
import { runTorture } from '../../bench/torture';

const SEED = Number(process.env['PHOENIX_TORTURE_SEED'] ?? 20261202);

it('a seeded torture run: 0 violations, 0 orphans, 0 events unaccounted for', async () => {
  const endpoint = inject('emulatorEndpoint');
  await resetEmulator(endpoint);
  console.log(`torture seed ${SEED}`);
  const report = await runTorture({
    seed: SEED,
    fleets: 5,
    rollouts: 15,
    replacements: 15,
    pauses: 2,
    chaos: 5,
    timeScale: 0.01,
    bootSeconds: 30,
    quiesceTimeoutMs: 120_000,
    emulatorEndpoint: endpoint,
    ...(process.env['PHOENIX_TORTURE_DUMP'] !== undefined
      ? { dump: process.env['PHOENIX_TORTURE_DUMP'] }
      : {}),
    log: (line) => console.log(line),
  });
  console.log(`torture: ${report.wallSeconds} s, outcomes ${JSON.stringify(report.outcomes)}`);
  expect(report.publications).toBe(15);
  expect(report.replacementEvents).toBeGreaterThanOrEqual(15);
  expect(report.quiesced).toBe(true);
  expect(report.violations).toEqual([]);
  expect(report.orphans).toBe(0);
  expect(report.unaccounted).toBe(0);
}, 300_000);
