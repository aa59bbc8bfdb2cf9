/**
 * `phoenix --help` start-up: wall time from spawning `node bin/phoenix.js --help` to its exit, in
 * fresh processes, one after another (one uncounted run first, so that the file cache and tsx's
 * transform cache are warm for every counted run).
 *
 *   npx tsx bench/cli-startup.ts     prints the median and every run, in ms
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

const REPO_ROOT = path.join(__dirname, '..');
const PHOENIX = path.join(REPO_ROOT, 'bin', 'phoenix.js');

/** One `node bin/phoenix.js --help`: milliseconds from spawn to exit (exit code 0 required). */
function runOnce(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [PHOENIX, '--help'], { cwd: REPO_ROOT, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`phoenix --help exited with ${code ?? signal}`));
    });
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of 7 fresh `phoenix --help` processes, and each run (ms, rounded to 0.1). */
export async function measureCliStartup(): Promise<{ medianMs: number; runs: number[] }> {
  await runOnce();
  const runs: number[] = [];
  for (let i = 0; i < 7; i++) runs.push(Math.round((await runOnce()) * 10) / 10);
  return { medianMs: median(runs), runs };
}

if (require.main === module) {
  measureCliStartup().then(
    ({ medianMs, runs }) => {
      process.stdout.write(
        `phoenix --help start-up: median ${medianMs} ms of ${runs.length} (${runs.join(', ')})\n`,
      );
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
