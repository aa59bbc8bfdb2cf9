/**
 * What a scale run (bench/scale.ts) would take at time scale 1: the run's own rollouts, their Wait
 * states at full length and everything else (Lambda steps, the emulator, a timer's lateness) at the
 * real time it took, replayed on K slots in the order the rollouts took them.
 *
 * At time scale 0.1 every real second outside a Wait state counts ten simulated seconds, so the
 * simulated wall time carries the Lambda steps and the emulator (unscaled, real time on two shared
 * cores) ten times over. The projection counts them once, as bench/rollout.ts's "projected to time
 * scale 1" does for one rollout. It stays conservative: those steps ran under ten times the load
 * per real second that the same fan-out puts on a machine at time scale 1.
 */

/** A Wait state an execution entered: its real interval (epoch ms) and its nominal length. */
export interface WaitSpan {
  readonly entered: number;
  readonly exited: number;
  /** The wait's length in simulated seconds (its `Seconds`, or what its `SecondsPath` read). */
  readonly seconds: number;
}

/** One rollout of the run, in real epoch milliseconds. */
export interface RolloutSpan {
  /** The execution's start. */
  readonly start: number;
  /** The rollout slot taken (the lock step after it entered). */
  readonly lock: number;
  /** The slot given back (the commit or report step entered; the end when neither ran). */
  readonly release: number;
  readonly end: number;
  /** Every Wait state the execution entered. */
  readonly waits: readonly WaitSpan[];
}

/**
 * The projected seconds of the real interval [from, to] of an execution: its real length, with the
 * part of each Wait inside it that the time scale shrank put back at full length (a timer's
 * lateness, real time, stays as it was).
 */
export function projectedSeconds(
  waits: readonly WaitSpan[],
  from: number,
  to: number,
  timeScale: number,
): number {
  let ms = Math.max(0, to - from);
  for (const w of waits) {
    const overlap = Math.min(to, w.exited) - Math.max(from, w.entered);
    if (overlap <= 0) continue;
    const fraction = w.exited > w.entered ? overlap / (w.exited - w.entered) : 1;
    ms += w.seconds * 1000 * fraction * (1 - timeScale);
  }
  return ms / 1000;
}

export interface ProjectedSchedule {
  /** Publication → the last rollout's projected end, seconds. */
  readonly wallSeconds: number;
  /** The mean projected rollout (lock → end), seconds. */
  readonly meanRolloutSeconds: number;
  /** The mean projected hand-off (a slot given back → the next rollout's lock), seconds. */
  readonly meanHandOffSeconds: number;
}

/**
 * Replay the run on `k` slots: rollouts take slots in the order they took them in the run; the
 * first `k` at their own projected time from publication, each later one when the earliest held
 * slot is given back (projected), plus its measured hand-off (the real time from the last release
 * before its lock to its lock, projected over its own waits). A rollout holds its slot for its
 * projected lock → release and ends at its projected lock → end.
 */
export function projectSchedule(
  spans: readonly RolloutSpan[],
  k: number,
  published: number,
  timeScale: number,
): ProjectedSchedule {
  if (!(k >= 1)) throw new RangeError(`k must be at least 1 (got ${k})`);
  const sorted = [...spans].sort((a, b) => a.lock - b.lock);
  const releases = spans.map((s) => s.release).sort((a, b) => a - b);
  const pool: number[] = [];
  let wall = 0;
  let rollouts = 0;
  let handOffs = 0;
  let handOffCount = 0;
  for (const [i, s] of sorted.entries()) {
    let lock: number;
    if (i < k) {
      // Publication → its start (the fan-out) is real time; start → lock over its own waits.
      lock = Math.max(0, s.start - published) / 1000 + projectedSeconds(s.waits, s.start, s.lock, timeScale);
    } else {
      pool.sort((a, b) => a - b);
      const free = pool.shift()!;
      const before = releases.filter((r) => r <= s.lock);
      const last = before.length > 0 ? before[before.length - 1]! : s.start;
      const handOff = projectedSeconds(s.waits, Math.max(last, s.start), s.lock, timeScale);
      handOffs += handOff;
      handOffCount++;
      lock = free + handOff;
    }
    pool.push(lock + projectedSeconds(s.waits, s.lock, s.release, timeScale));
    const length = projectedSeconds(s.waits, s.lock, s.end, timeScale);
    rollouts += length;
    wall = Math.max(wall, lock + length);
  }
  return {
    wallSeconds: wall,
    meanRolloutSeconds: sorted.length > 0 ? rollouts / sorted.length : 0,
    meanHandOffSeconds: handOffCount > 0 ? handOffs / handOffCount : 0,
  };
}
