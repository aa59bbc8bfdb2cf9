/**
 * The small torture run (issue 11 §4; bench/torture.ts, docs/proofs.md), in `npm test` so the proof
 * stays alive in CI: 5 fleets (rolling and blue-green, a canary, alarm gates, target groups,
 * min-healthy 50 %, a disruption budget, a shared channel), 15 publications (new, older, duplicate
 * and broken images, by every way users publish), 15 replacement events (the published samples),
 * 2 pauses, 5 chaos actions, boot time on, the reconcile schedule on, and the fault layer's API and
 * Lambda faults at 10 %, event loss at 1 %, duplicates and delays at 5 %, all seeded; the invariant
 * observer watches throughout. Asserted: the run quiesces, no invariant is ever violated (floor,
 * one rollout, disruption budget, at rest, orphans, events accounted for, lost events healed by the
 * sweep, broken images never succeed), no orphan, no event unaccounted for.
 *
 * The seed is printed with the command that replays it outside the tests; PHOENIX_TORTURE_SEED
 * picks another one. A seed that finds a violation becomes a regression test of the fix (the table
 * in docs/proofs.md) and may stay here.
 */
import { describe, expect, inject, it } from 'vitest';
import { FULL_RUN, runTorture, TORTURE_FAULTS } from '../../bench/torture';
import { resetEmulator } from '../../local/emulator';

const SEED = Number(process.env['PHOENIX_TORTURE_SEED'] ?? 20261202);

describe('the small torture run (faults on)', () => {
  it('quiesces with no invariant violated, no orphan and every event accounted for', async () => {
    const endpoint = inject('emulatorEndpoint');
    await resetEmulator(endpoint);
    const lines: string[] = [];
    const report = await runTorture({
      ...FULL_RUN,
      seed: SEED,
      fleets: 5,
      rollouts: 15,
      replacements: 15,
      pauses: 2,
      chaos: 5,
      faults: TORTURE_FAULTS(SEED),
      emulatorEndpoint: endpoint,
      log: (line) => lines.push(line),
    });
    console.log(`torture e2e: seed ${SEED} (replay: ${report.replay} or PHOENIX_TORTURE_SEED=${SEED})`);
    console.log(
      `torture e2e: ${report.publications} publications, ${report.rolloutExecutions} rollout executions, ${report.replacementEvents} replacement events, ${report.eventsPut} events put, ${report.wallSeconds} s; outcomes ${JSON.stringify(report.outcomes)}; faults ${JSON.stringify(report.faults)}`,
    );
    const context = `seed ${SEED}; the run's log:\n${lines.join('\n')}`;
    expect(report.quiesced, context).toBe(true);
    expect(report.violations, context).toEqual([]);
    expect(report.orphans, context).toBe(0);
    expect(report.unaccounted, context).toBe(0);
    // The mix happened: rollouts ran and some ended each way, replacements were made.
    expect(report.rolloutExecutions).toBeGreaterThan(0);
    expect(report.outcomes['RolloutSucceeded'] ?? 0).toBeGreaterThan(0);
    expect(report.outcomes['InstanceReplaced'] ?? 0).toBeGreaterThan(0);
  }, 900_000);
});
