/**
 * Phoenix benchmark — measures, records, asserts nothing (except that each measurement ran).
 *
 *   npm run bench               figures 1–4 and 6–11, the scale figures
 *   npm run bench -- --full     figures 1–11 and scale (5 adds a cold `npm ci` in a fresh clone and `npm test`)
 *   npm run bench -- --only scale            one figure group alone (or several: --only rollouts,replacement);
 *                                            groups: synth, cli, watch, assets (with synth), ready, demo,
 *                                            replacement, rollouts, scale, torture. A whole run writes
 *                                            bench/results/latest.*, a run with --only
 *                                            bench/results/<groups>.* (both are committed).
 *   npm run bench -- --only scale --scale-k 10,20 --scale-fleets 50   the scale group for these K, fleets
 *   npm run bench -- --only scale --scale-time-scale 0.2   … at another time scale (default 0.1)
 *
 * Figures (every target is an upper bound in the figure's own unit; `met` = value ≤ target):
 *   1. `cdk synth` wall time: `npx cdk synth --no-notices --quiet -o <tmp>/cdk.out`, once, with
 *      CDK_DISABLE_CLI_TELEMETRY=true, CDK_HOME=<tmp>/cdk-home and every AWS_* variable unset.
 *   CLI: `phoenix --help` start-up, median of 7 fresh processes (bench/cli-startup.ts); target 1 s.
 *   Watch: `status --watch` build + render of one 20-instance frame, and bytes per redraw
 *      (bench/status-watch.ts, pure, no target).
 *   2. Per Lambda asset of that cdk.out (function → S3Key → `*.assets.json` source path, cross-checked
 *      with the `aws:asset:path` metadata; handler name from the `phoenix:handler` metadata):
 *      - bundle size = size in bytes of the asset's `index.js` as written by esbuild (uncompressed,
 *        not the zip); target 1 MB read strictly as 1,000,000 bytes;
 *      - cold load = median of 7 fresh `node -e` processes, each timing `require('<asset>/index.js')`
 *        with process.hrtime (module load + top-level init only, not node start-up); target 150 ms;
 *        min and max are recorded in `detail`.
 *   3. `phoenix local` ready time: spawn `node bin/phoenix.js local` → `PHOENIX_ENDPOINT=` line on
 *      stdout; median of 3, target 15 s. Each run is then SIGTERMed; the shutdown figure records
 *      the slowest SIGTERM → exit and is met only if every run exited 0 within 10 s, the emulator
 *      port (the PHOENIX_ENDPOINT) no longer accepts connections, and (Linux) no process that
 *      phoenix had started is still alive.
 *   4. Demo rollout: spawn `node bin/phoenix.js local --demo`, parse the stderr line
 *      `demo: rollout <STATUS> in <x> s`; figure = x (target 30 s, met only if STATUS is SUCCEEDED),
 *      plus spawn → that line (no target). Then SIGTERM.
 *   5. --full only: cold `npm ci --no-audit --no-fund --cache <tmp>/npm-cache` in a fresh
 *      `git clone /work/main` (committed HEAD, not the working tree; registry reached over the
 *      network; no target), and `npm test` in the repo (target 600 s; the final
 *      `N passed, N failed` line is parsed, failures get their own figure with target 0).
 *   6–8. Replacement and reconcile, in-process against one local runtime (see bench/replacement.ts):
 *      one replacement (event → replacement InService, against the minimum; AWS calls per
 *      replacement), a storm of 1,000 events for 100 instances (exactly 100 replacements, the most
 *      in flight per fleet against the budget), and a reconcile sweep of 1,000 instances in 20
 *      fleets (AWS calls, target 15; wall time).
 *   9–11. Rollouts in the local runtime (see bench/rollout.ts, run as a child process): rolling 20
 *      and 8 instances, blue-green 20; wall time against the minimum of their waits, AWS calls per
 *      replaced instance and per batch, states entered and AWS history events.
 *   Scale (bench/scale.ts, one child per K = maxConcurrentRollouts, default 10, 20, 40): one
 *      publication, 200 fleets of 2 (rolling, one channel), boot time and AWS's token buckets on;
 *      fleets left behind (target 0), throttling errors escaped into an outcome (target 0), the
 *      peak call rate per API ÷ its bucket (target 1), wall time ÷ ⌈fleets ÷ K⌉ × one rollout's
 *      minimum (target 1.10), rollout slots held at the end (target 0). The floors with boot time
 *      on are figures of groups rollouts (rolling 8, boot 60 s) and replacement (event → serving).
 *   Torture run (see bench/torture.ts and docs/proofs.md, run as a child process): invariant
 *      violations, orphans and events unaccounted for (targets 0), wall time; seed 7, or
 *      `--torture-seed N`.
 *
 * A figure without a target has `target: null`; its `met` only says that the measurement ran.
 * A measurement that could not run has `value: null`, `met: false` and an `error`; the process then
 * exits 1 after writing the results. Results: bench/results/latest.json and latest.md.
 *
 * Every child runs in its own process group and is SIGKILLed (whole group) when this process exits,
 * is interrupted, or hits the overall deadline; every step has its own timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { measureCliStartup } from './cli-startup';
import { benchReplacement } from './replacement';
import { benchRollouts } from './rollout';
import { benchScale } from './scale';
import { benchStatusWatch } from './status-watch';
import { benchTorture } from './torture';

const ROOT = path.resolve(__dirname, '..');
const RESULTS_DIR = path.join(__dirname, 'results');
const FULL = process.argv.slice(2).includes('--full');
/** `--only a,b`: run these figure groups only (results are then not written). */
function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
const GROUPS = [
  'synth',
  'cli',
  'watch',
  'assets',
  'ready',
  'demo',
  'replacement',
  'rollouts',
  'scale',
  'torture',
];
const ONLY = option('--only')
  ?.split(',')
  .map((g) => g.trim())
  .filter(Boolean);
for (const g of ONLY ?? [])
  if (!GROUPS.includes(g)) throw new Error(`--only: unknown group ${g} (groups: ${GROUPS.join(', ')})`);
const want = (group: string) => ONLY === undefined || ONLY.includes(group);
const SCALE_K = option('--scale-k')
  ?.split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0);
const SCALE_FLEETS = option('--scale-fleets') === undefined ? undefined : Number(option('--scale-fleets'));
/** The torture run's seed (`--torture-seed`; default: the one docs/proofs.md reports). */
const TORTURE_SEED = Number(option('--torture-seed') ?? 7);
const SCALE_TIME =
  option('--scale-time-scale') === undefined ? undefined : Number(option('--scale-time-scale'));

const MIB = 1_048_576;
/** The bundle target, read strictly: 1 MB = 1,000,000 bytes (below 1 MiB too). */
const BUNDLE_TARGET_BYTES = 1_000_000;
const LOAD_RUNS = 7;
const READY_RUNS = 3;
const SYNTH_TIMEOUT_MS = 300_000;
const LOAD_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 90_000;
const DEMO_TIMEOUT_MS = 180_000;
const SHUTDOWN_LIMIT_MS = 10_000;
const NPM_CI_TIMEOUT_MS = 900_000;
const NPM_TEST_TIMEOUT_MS = 1_200_000;
/** Overall bound: all timeouts above for the steps that run, with some slack. */
const OVERALL_TIMEOUT_MS = FULL ? 75 * 60_000 : 45 * 60_000;

// ---- results ------------------------------------------------------------------------------------

interface Figure {
  name: string;
  value: number | null;
  unit: string;
  /** Upper bound in `unit`, or null when the figure has no target. */
  target: number | null;
  met: boolean;
  command: string;
  detail?: Record<string, unknown>;
  error?: string;
}

const figures: Figure[] = [];
let measurementFailed = false;

function record(figure: Omit<Figure, 'met'> & { met?: boolean }): Figure {
  const ran = figure.value !== null && figure.error === undefined;
  if (!ran) measurementFailed = true;
  const withinTarget = figure.target === null || (figure.value !== null && figure.value <= figure.target);
  const recorded = { ...figure, met: ran && withinTarget && (figure.met ?? true) };
  figures.push(recorded);
  return recorded;
}

function failed(name: string, unit: string, target: number | null, command: string, error: unknown): void {
  record({ name, value: null, unit, target, command, error: describe(error) });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
const seconds = (ms: number) => round(ms / 1000, 2);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ---- child processes ----------------------------------------------------------------------------

const live = new Set<ChildProcess>();

/** SIGKILL the process group of every child still running (they are group leaders: detached). */
function killAll(): void {
  for (const child of live) {
    if (child.pid === undefined) continue;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}: killing children\n`);
    killAll();
    process.exit(128 + (os.constants.signals[signal] ?? 0));
  });
}

/** The environment of every child: this one without AWS_* (no credentials, no profile, no region) and
 * without the npm_* variables `npm run` injects (so nested npm/npx commands see a plain shell). */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^AWS_/i.test(key) || key.startsWith('npm_')) continue;
    env[key] = value;
  }
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}

interface Started {
  readonly child: ChildProcess;
  readonly startedAt: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stdout: string;
  stderr: string;
  /** Resolves with the first line of `stream` matching `pattern` (and the time it was seen). */
  waitFor(
    stream: 'stdout' | 'stderr',
    pattern: RegExp,
    timeoutMs: number,
  ): Promise<{ match: RegExpMatchArray; at: number }>;
  /** SIGKILL the whole process group. */
  kill(): void;
}

function start(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Started {
  const startedAt = performance.now();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(child);
  const watchers: Array<{
    stream: 'stdout' | 'stderr';
    pattern: RegExp;
    done: (m: RegExpMatchArray) => void;
  }> = [];
  const partial = { stdout: '', stderr: '' };
  const started: Started = {
    child,
    startedAt,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => {
      child.once('error', (error) => {
        started.stderr += `spawn error: ${error.message}\n`;
        live.delete(child);
        resolve({ code: null, signal: null, at: performance.now() });
      });
      child.once('close', (code, signal) => {
        live.delete(child);
        resolve({ code, signal, at: performance.now() });
      });
    }),
    waitFor(stream, pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const existing = started[stream].split('\n').find((line) => pattern.test(line));
        if (existing !== undefined) {
          resolve({ match: existing.match(pattern)!, at: performance.now() });
          return;
        }
        const timer = setTimeout(
          () => reject(new Error(`no line matching ${String(pattern)} on ${stream} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        const watcher = {
          stream,
          pattern,
          done: (match: RegExpMatchArray) => {
            clearTimeout(timer);
            resolve({ match, at: performance.now() });
          },
        };
        watchers.push(watcher);
        void started.exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(
            new Error(
              `exited (code ${String(code)}, signal ${String(signal)}) before a line matching ${String(pattern)}; ` +
                `stderr tail: ${started.stderr.slice(-600).trim()}`,
            ),
          );
        });
      });
    },
    kill() {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]?.setEncoding('utf8');
    child[stream]?.on('data', (chunk: string) => {
      started[stream] += chunk;
      partial[stream] += chunk;
      const lines = partial[stream].split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) {
        for (const watcher of [...watchers]) {
          if (watcher.stream !== stream) continue;
          const match = line.match(watcher.pattern);
          if (match) {
            watchers.splice(watchers.indexOf(watcher), 1);
            watcher.done(match);
          }
        }
      }
    });
  }
  return started;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  stdout: string;
  stderr: string;
}

/** Run to completion, with a timeout (SIGKILL of the group, then an error). */
async function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; echo?: boolean },
): Promise<RunResult> {
  const started = start(command, args, options);
  if (options.echo) {
    started.child.stdout?.on('data', (chunk: string) => process.stderr.write(chunk));
    started.child.stderr?.on('data', (chunk: string) => process.stderr.write(chunk));
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    started.kill();
  }, options.timeoutMs);
  const exit = await started.exited;
  clearTimeout(timer);
  if (timedOut) throw new Error(`${command} ${args.join(' ')}: timed out after ${options.timeoutMs} ms`);
  return {
    code: exit.code,
    signal: exit.signal,
    ms: exit.at - started.startedAt,
    stdout: started.stdout,
    stderr: started.stderr,
  };
}

function mustSucceed(result: RunResult, what: string): RunResult {
  if (result.code !== 0) {
    throw new Error(
      `${what} exited with code ${String(result.code)} (signal ${String(result.signal)}): ${(result.stderr || result.stdout).slice(-800).trim()}`,
    );
  }
  return result;
}

/** True if something accepts TCP connections on host:port. */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Descendants of `pid` (Linux /proc), with their command lines; empty elsewhere. */
function descendants(pid: number): Array<{ pid: number; cmdline: string }> {
  if (!existsSync('/proc/self/stat')) return [];
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const found: Array<{ pid: number; cmdline: string }> = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, ppid] of parents) {
      if (ppid !== parent) continue;
      queue.push(child);
      found.push({ pid: child, cmdline: cmdlineOf(child) ?? '' });
    }
  }
  return found;
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return undefined;
  }
}

// ---- 1. cdk synth -------------------------------------------------------------------------------

async function benchSynth(tmp: string): Promise<string | undefined> {
  const out = path.join(tmp, 'cdk.out');
  const args = ['cdk', 'synth', '--no-notices', '--quiet', '-o', out];
  const command = `npx ${args.join(' ')}`;
  const name = 'cdk synth wall time';
  try {
    const result = mustSucceed(
      await run('npx', args, {
        cwd: ROOT,
        env: childEnv({ CDK_DISABLE_CLI_TELEMETRY: 'true', CDK_HOME: path.join(tmp, 'cdk-home') }),
        timeoutMs: SYNTH_TIMEOUT_MS,
      }),
      'cdk synth',
    );
    record({ name, value: seconds(result.ms), unit: 's', target: null, command });
    return out;
  } catch (error) {
    failed(name, 's', null, command, error);
    return undefined;
  }
}

// ---- CLI start-up ---------------------------------------------------------------------------------
/** `phoenix --help`: the CLI loads a command's modules only when that command runs (bin/phoenix-cli.ts). */
async function benchCliStartup(): Promise<void> {
  const name = 'phoenix --help start-up (median of 7 fresh processes)';
  const command = 'npx tsx bench/cli-startup.ts';
  try {
    const { medianMs, runs } = await measureCliStartup();
    record({ name, value: round(medianMs, 1), unit: 'ms', target: 1000, command, detail: { runs } });
  } catch (error) {
    failed(name, 'ms', 1000, command, error);
  }
}

// ---- 2. Lambda assets ---------------------------------------------------------------------------

interface LambdaAsset {
  handler: string;
  logicalId: string;
  dir: string;
}

interface CloudAssemblyManifest {
  artifacts?: Record<string, { type: string; properties?: { templateFile?: string; file?: string } }>;
}

interface AssetManifest {
  files?: Record<string, { source?: { path?: string } }>;
}

interface Template {
  Resources?: Record<
    string,
    { Type: string; Properties?: { Code?: { S3Key?: unknown } }; Metadata?: Record<string, unknown> }
  >;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

function findLambdaAssets(cdkOut: string): LambdaAsset[] {
  const manifest = readJson<CloudAssemblyManifest>(path.join(cdkOut, 'manifest.json'));
  const artifacts = Object.values(manifest.artifacts ?? {});
  const sources = new Map<string, string>();
  for (const artifact of artifacts) {
    if (artifact.type !== 'cdk:asset-manifest' || !artifact.properties?.file) continue;
    const assets = readJson<AssetManifest>(path.join(cdkOut, artifact.properties.file));
    for (const [hash, asset] of Object.entries(assets.files ?? {})) {
      if (asset.source?.path) sources.set(hash, asset.source.path);
    }
  }
  const found: LambdaAsset[] = [];
  for (const artifact of artifacts) {
    if (artifact.type !== 'aws:cloudformation:stack' || !artifact.properties?.templateFile) continue;
    const template = readJson<Template>(path.join(cdkOut, artifact.properties.templateFile));
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const handler = resource.Metadata?.['phoenix:handler'];
      if (typeof handler !== 'string') continue; // not a Phoenix handler (e.g. a CDK custom resource)
      const s3Key = resource.Properties?.Code?.S3Key;
      const byManifest = typeof s3Key === 'string' ? sources.get(s3Key.replace(/\.zip$/, '')) : undefined;
      const byMetadata = resource.Metadata?.['aws:asset:path'];
      const relative = byManifest ?? (typeof byMetadata === 'string' ? byMetadata : undefined);
      if (relative === undefined) throw new Error(`${logicalId} (${handler}): no asset path found`);
      if (byManifest !== undefined && typeof byMetadata === 'string' && byMetadata !== byManifest) {
        throw new Error(`${logicalId}: asset manifest says ${byManifest}, metadata says ${byMetadata}`);
      }
      found.push({ handler, logicalId, dir: path.resolve(cdkOut, relative) });
    }
  }
  return found.sort((a, b) => a.handler.localeCompare(b.handler));
}

const LOAD_SCRIPT =
  'const t = process.hrtime.bigint(); require(process.argv[1]); ' +
  'process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));';

async function benchAssets(cdkOut: string | undefined): Promise<void> {
  let assets: LambdaAsset[];
  try {
    if (cdkOut === undefined) throw new Error('no cdk.out: cdk synth failed');
    assets = findLambdaAssets(cdkOut);
    if (assets.length === 0) throw new Error('no AWS::Lambda::Function with phoenix:handler metadata');
  } catch (error) {
    failed('Lambda bundle size', 'bytes', BUNDLE_TARGET_BYTES, 'stat <asset>/index.js', error);
    failed('Lambda cold load', 'ms', 150, 'node -e require(<asset>/index.js)', error);
    return;
  }
  for (const asset of assets) {
    const file = path.join(asset.dir, 'index.js');
    const relativeFile = `<tmp>/cdk.out/${path.relative(cdkOut, file)}`;
    const detail = { logicalId: asset.logicalId, file: relativeFile };
    const sizeName = `bundle size: ${asset.handler}`;
    try {
      record({
        name: sizeName,
        value: statSync(file).size,
        unit: 'bytes',
        target: BUNDLE_TARGET_BYTES,
        command: `stat -c %s ${relativeFile}`,
        detail: {
          ...detail,
          definition: 'bytes of index.js, uncompressed; 1 MB read strictly as 1,000,000 bytes',
        },
      });
    } catch (error) {
      failed(sizeName, 'bytes', BUNDLE_TARGET_BYTES, `stat ${relativeFile}`, error);
    }
    const loadName = `cold load: ${asset.handler}`;
    const command = `node -e "<hrtime around require>" ${relativeFile} (median of ${LOAD_RUNS})`;
    try {
      const samples: number[] = [];
      for (let i = 0; i < LOAD_RUNS; i++) {
        const result = mustSucceed(
          await run(process.execPath, ['-e', LOAD_SCRIPT, file], {
            cwd: os.tmpdir(),
            env: childEnv(),
            timeoutMs: LOAD_TIMEOUT_MS,
          }),
          'node -e require',
        );
        const ms = Number(result.stdout.trim());
        if (!Number.isFinite(ms)) throw new Error(`unexpected output: ${result.stdout.slice(0, 200)}`);
        samples.push(ms);
      }
      record({
        name: loadName,
        value: round(median(samples), 1),
        unit: 'ms',
        target: 150,
        command,
        detail: {
          ...detail,
          runs: LOAD_RUNS,
          min: round(Math.min(...samples), 1),
          max: round(Math.max(...samples), 1),
          samples: samples.map((s) => round(s, 1)),
        },
      });
    } catch (error) {
      failed(loadName, 'ms', 150, command, error);
    }
  }
}

// ---- 3. phoenix local ready time + clean shutdown -----------------------------------------------

interface Shutdown {
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  portAnswers: boolean;
  leftovers: Array<{ pid: number; cmdline: string }>;
}

interface ShutdownRecord {
  seconds: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  emulatorPortAnswers: boolean;
  leftoverProcesses: Array<{ pid: number; cmdline: string }>;
}

const shutdownRecord = (s: Shutdown): ShutdownRecord => ({
  seconds: seconds(s.ms),
  exitCode: s.code,
  signal: s.signal,
  emulatorPortAnswers: s.portAnswers,
  leftoverProcesses: s.leftovers,
});

/** SIGTERM phoenix itself (not its group), wait ≤ 10 s, then check the emulator is gone. */
async function terminate(started: Started, endpoint: string | undefined): Promise<Shutdown> {
  const pid = started.child.pid!;
  const before = descendants(pid);
  const sentAt = performance.now();
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
  const exit = await Promise.race([
    started.exited,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), SHUTDOWN_LIMIT_MS).unref()),
  ]);
  const ms = exit === undefined ? SHUTDOWN_LIMIT_MS : exit.at - sentAt;
  let portAnswers = false;
  if (endpoint !== undefined) {
    const url = new URL(endpoint);
    portAnswers = await answers(url.hostname, Number(url.port));
  }
  const leftovers = before.filter((p) => p.cmdline !== '' && cmdlineOf(p.pid) === p.cmdline);
  // Clean up whatever survived (our own descendants, by pid), then the group.
  for (const p of leftovers) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  started.kill();
  await started.exited;
  return {
    ms,
    code: exit === undefined ? null : exit.code,
    signal: exit === undefined ? null : exit.signal,
    portAnswers,
    leftovers,
  };
}

async function benchReady(): Promise<void> {
  const args = ['bin/phoenix.js', 'local'];
  const command = `node ${args.join(' ')}`;
  const readyName = 'phoenix local ready time';
  const shutdownName = 'phoenix local shutdown (SIGTERM → exit 0, emulator gone)';
  const readySamples: number[] = [];
  const shutdowns: Shutdown[] = [];
  try {
    for (let i = 0; i < READY_RUNS; i++) {
      const started = start(process.execPath, args, { cwd: ROOT, env: childEnv() });
      let endpoint: string | undefined;
      try {
        const { match, at } = await started.waitFor('stdout', /^PHOENIX_ENDPOINT=(\S+)/, READY_TIMEOUT_MS);
        endpoint = match[1];
        readySamples.push(at - started.startedAt);
      } finally {
        shutdowns.push(await terminate(started, endpoint));
      }
    }
    record({
      name: readyName,
      value: seconds(median(readySamples)),
      unit: 's',
      target: 15,
      command: `${command} (median of ${READY_RUNS}, spawn → PHOENIX_ENDPOINT line)`,
      detail: {
        runs: READY_RUNS,
        min: seconds(Math.min(...readySamples)),
        max: seconds(Math.max(...readySamples)),
        samples: readySamples.map(seconds),
      },
    });
  } catch (error) {
    failed(readyName, 's', 15, command, error);
  }
  if (shutdowns.length === 0) return;
  const clean = shutdowns.every(
    (s) => s.code === 0 && s.ms < SHUTDOWN_LIMIT_MS && !s.portAnswers && s.leftovers.length === 0,
  );
  record({
    name: shutdownName,
    value: seconds(Math.max(...shutdowns.map((s) => s.ms))),
    unit: 's',
    target: SHUTDOWN_LIMIT_MS / 1000,
    met: clean,
    command: `kill -TERM <phoenix pid>; slowest of ${shutdowns.length}`,
    detail: {
      runs: shutdowns.map(shutdownRecord),
    },
  });
}

// ---- 4. demo rollout ----------------------------------------------------------------------------

async function benchDemo(): Promise<void> {
  const args = ['bin/phoenix.js', 'local', '--demo'];
  const command = `node ${args.join(' ')}`;
  const rolloutName = 'demo rollout wall time (as reported)';
  const totalName = 'demo: spawn → rollout line';
  const started = start(process.execPath, args, { cwd: ROOT, env: childEnv() });
  let endpoint: string | undefined;
  let rollout: Figure | undefined;
  void started
    .waitFor('stdout', /^PHOENIX_ENDPOINT=(\S+)/, DEMO_TIMEOUT_MS)
    .then(({ match }) => (endpoint = match[1]))
    .catch(() => undefined);
  try {
    const { match, at } = await started.waitFor(
      'stderr',
      /demo: rollout (\S+) in ([\d.]+) s(?::\s*(.*))?/,
      DEMO_TIMEOUT_MS,
    );
    const [, status = '', secondsText = '', summary = ''] = match;
    rollout = record({
      name: rolloutName,
      value: Number(secondsText),
      unit: 's',
      target: 30,
      met: status === 'SUCCEEDED',
      command,
      detail: { status, summary, line: match[0] },
    });
    record({ name: totalName, value: seconds(at - started.startedAt), unit: 's', target: null, command });
  } catch (error) {
    failed(rolloutName, 's', 30, command, error);
    failed(totalName, 's', null, command, error);
  } finally {
    // Recorded, not judged here: the shutdown figure of step 3 is the one with a target.
    const shutdown = await terminate(started, endpoint);
    if (rollout?.detail) {
      rollout.detail['shutdown'] = shutdownRecord(shutdown);
    }
  }
}

// ---- 6–8. replacement, storm, reconcile sweep -----------------------------------------------------

async function benchReplacementFigures(): Promise<void> {
  const started = performance.now();
  try {
    await benchReplacement({ record, failed });
  } catch (error) {
    failed('replacement benchmarks (local runtime)', 's', null, 'bench/replacement.ts', error);
  }
  record({
    name: 'replacement benchmarks: wall time (figures 6–8)',
    value: seconds(performance.now() - started),
    unit: 's',
    target: null,
    command:
      'bench/replacement.ts (local runtime start, one replacement, storm, fleets for the sweep, sweep)',
  });
}

// ---- 5. --full: npm ci (cold) and npm test ------------------------------------------------------

async function benchNpmCi(tmp: string): Promise<void> {
  const clone = path.join(tmp, 'clone');
  const cache = path.join(tmp, 'npm-cache');
  const args = ['ci', '--no-audit', '--no-fund', '--cache', cache];
  const command = `git clone ${ROOT} <tmp>/clone && npm ${args.slice(0, 3).join(' ')} --cache <tmp>/npm-cache`;
  const name = 'npm ci (cold cache, fresh clone)';
  try {
    mustSucceed(
      await run('git', ['clone', '--quiet', ROOT, clone], { cwd: tmp, env: childEnv(), timeoutMs: 120_000 }),
      'git clone',
    );
    const result = mustSucceed(
      await run('npm', args, { cwd: clone, env: childEnv(), timeoutMs: NPM_CI_TIMEOUT_MS }),
      'npm ci',
    );
    const added = /added (\d+) packages?/.exec(result.stdout)?.[1];
    record({
      name,
      value: seconds(result.ms),
      unit: 's',
      target: null,
      command,
      detail: { packagesAdded: added === undefined ? null : Number(added) },
    });
  } catch (error) {
    failed(name, 's', null, command, error);
  }
}

async function benchTests(): Promise<void> {
  const command = 'npm test';
  const name = 'npm test wall time';
  try {
    process.stderr.write('bench: npm test (output follows on stderr)\n');
    const result = await run('npm', ['test'], {
      cwd: ROOT,
      env: childEnv(),
      timeoutMs: NPM_TEST_TIMEOUT_MS,
      echo: true,
    });
    const counts = [...result.stdout.matchAll(/^(\d+) passed, (\d+) failed$/gm)].pop();
    if (counts === undefined)
      throw new Error(`no final "N passed, N failed" line (exit ${String(result.code)})`);
    const passed = Number(counts[1]);
    const failedTests = Number(counts[2]);
    record({
      name,
      value: seconds(result.ms),
      unit: 's',
      target: 600,
      command,
      detail: { passed, failed: failedTests, exitCode: result.code },
    });
    record({
      name: 'npm test failed tests',
      value: failedTests,
      unit: 'tests',
      target: 0,
      command,
      detail: { passed },
    });
  } catch (error) {
    failed(name, 's', 600, command, error);
  }
}

// ---- output -------------------------------------------------------------------------------------

function formatValue(value: number | null, unit: string): string {
  if (value === null) return '—';
  if (unit === 'bytes') return `${value.toLocaleString('en-US')} B (${round(value / MIB, 3)} MiB)`;
  return `${value} ${unit}`;
}

function formatTarget(target: number | null, unit: string): string {
  if (target === null) return '—';
  if (unit === 'bytes') return `≤ ${target.toLocaleString('en-US')} B`;
  return `≤ ${target} ${unit}`;
}

function markdown(meta: Record<string, unknown>): string {
  const lines = [
    `# Phoenix benchmark${FULL ? ' (--full)' : ''}`,
    '',
    `${String(meta['date'])} · Node ${String(meta['node'])} · ${String(meta['cpus'])} CPU (${String(meta['cpuModel'])}) · ${String(meta['platform'])}`,
    '',
    '| Figure | Value | Target | Met | Notes |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const f of figures) {
    const notes: string[] = [];
    const d = f.detail ?? {};
    if (typeof d['min'] === 'number' && typeof d['max'] === 'number')
      notes.push(`min ${d['min']}, max ${d['max']}`);
    if (typeof d['status'] === 'string') notes.push(d['status']);
    if (typeof d['minimumSeconds'] === 'number')
      notes.push(
        typeof d['overheadSeconds'] === 'number'
          ? `minimum ${d['minimumSeconds']} s, overhead ${d['overheadSeconds']} s`
          : `minimum ${d['minimumSeconds']} s${typeof d['ratio'] === 'number' ? `, ratio ${d['ratio']}` : ''}`,
      );
    if (typeof d['executions'] === 'number')
      notes.push(
        `${d['executions']} executions ${JSON.stringify(d['executionsByStatus'])}, ${String(d['distinctInstancesReplaced'])} instances replaced`,
      );
    if (typeof d['maxInFlight'] === 'object' && d['maxInFlight'] !== null)
      notes.push(
        `in flight ${JSON.stringify(d['maxInFlight'])}; min serving ${JSON.stringify(d['minServing'])}`,
      );
    if (typeof d['calls'] === 'object' && d['calls'] !== null)
      notes.push(
        Object.entries(d['calls'] as Record<string, number>)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      );
    if (typeof d['passed'] === 'number' && typeof d['failed'] === 'number') {
      notes.push(`${d['passed']} passed, ${d['failed']} failed`);
    }
    // The shutdown figure's runs (a CLI figure's `runs` are plain numbers).
    if (Array.isArray(d['runs']) && d['runs'].every((r) => typeof r === 'object' && r !== null)) {
      notes.push(
        (d['runs'] as ShutdownRecord[])
          .map(
            (r) =>
              (r.exitCode === null ? `killed by ${String(r.signal)}` : `exit ${r.exitCode}`) +
              (r.emulatorPortAnswers ? ', emulator port open' : '') +
              (r.leftoverProcesses.length > 0 ? ', leftover processes' : ''),
          )
          .join('; '),
      );
    }
    if (f.error !== undefined) notes.push(`ERROR: ${f.error}`);
    const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
    lines.push(
      `| ${cell(f.name)} | ${formatValue(f.value, f.unit)} | ${formatTarget(f.target, f.unit)} | ${f.target === null && f.error === undefined ? 'n/a' : f.met ? 'yes' : '**no**'} | ${cell(notes.join('; ').slice(0, 300))} |`,
    );
  }
  lines.push(
    '',
    'Bundle size = bytes of the esbuild `index.js` (uncompressed); target 1 MB read strictly as 1,000,000 bytes (also below 1 MiB).',
    '',
  );
  return lines.join('\n');
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const deadline = setTimeout(() => {
    process.stderr.write(`bench: overall timeout (${OVERALL_TIMEOUT_MS / 60_000} min): killing children\n`);
    killAll();
    process.exit(2);
  }, OVERALL_TIMEOUT_MS);
  deadline.unref();

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'phoenix-bench-'));
  const step = (what: string) => process.stderr.write(`bench: ${what}\n`);
  try {
    let cdkOut: string | undefined;
    if (want('synth') || want('assets')) {
      step('1/5 cdk synth');
      cdkOut = await benchSynth(tmp);
    }
    if (want('cli')) {
      step('CLI start-up: phoenix --help');
      await benchCliStartup();
    }
    if (want('watch')) {
      step('status --watch redraw cost (bench/status-watch.ts)');
      try {
        benchStatusWatch(record);
      } catch (error) {
        failed('status --watch redraw cost', 'ms', null, 'npx tsx bench/status-watch.ts', error);
      }
    }
    if (want('assets')) {
      step('2/5 Lambda bundle sizes and cold load');
      await benchAssets(cdkOut);
    }
    if (want('ready')) {
      step('3/5 phoenix local ready time');
      await benchReady();
    }
    if (want('demo')) {
      step('4/5 demo rollout');
      await benchDemo();
    }
    if (want('replacement')) {
      step('5/5 replacement, storm and reconcile sweep (local runtime, in-process)');
      await benchReplacementFigures();
    }
    if (want('rollouts')) {
      step(
        'rollouts: rolling 20 and 8, blue-green 20, rolling 8 with boot (bench/rollout.ts, in a child process)',
      );
      await benchRollouts(record).catch((error: unknown) =>
        failed('rollout benchmarks (local runtime)', 's', null, 'npx tsx bench/rollout.ts --json', error),
      );
    }
    if (want('scale')) {
      step('scale: 200 fleets under API limits, per maxConcurrentRollouts (bench/scale.ts, one child per K)');
      await benchScale(record, {
        ...(SCALE_K !== undefined && SCALE_K.length > 0 ? { concurrency: SCALE_K } : {}),
        ...(SCALE_FLEETS !== undefined ? { fleets: SCALE_FLEETS } : {}),
        ...(SCALE_TIME !== undefined ? { timeScale: SCALE_TIME } : {}),
        progress: step,
      }).catch((error: unknown) =>
        failed('scale benchmarks (local runtime)', 's', null, 'npx tsx bench/scale.ts --json', error),
      );
    }
    if (want('torture')) {
      step(
        'torture run: 20 fleets, 100 publications, 100 replacement events, chaos (bench/torture.ts, in a child process)',
      );
      await benchTorture(record, TORTURE_SEED).catch((error: unknown) =>
        failed('torture run (local runtime)', 'violations', 0, 'npx tsx bench/torture.ts --json', error),
      );
    }
    if (FULL) {
      step('--full: npm ci (cold) in a fresh clone');
      await benchNpmCi(tmp);
      step('--full: npm test');
      await benchTests();
    }
  } finally {
    killAll();
    rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }

  const cpus = os.cpus();
  const meta = {
    date: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    node: process.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    full: FULL,
  };
  // A whole run writes latest.*; a group measured alone its own file (bench/results/<groups>.*).
  // The figures first: a table that cannot be drawn must not lose a run's measurements.
  mkdirSync(RESULTS_DIR, { recursive: true });
  const base = path.join(RESULTS_DIR, ONLY === undefined ? 'latest' : ONLY.join('+'));
  writeFileSync(`${base}.json`, `${JSON.stringify({ ...meta, figures }, null, 2)}\n`);
  const table = markdown(meta);
  writeFileSync(`${base}.md`, table);
  if (ONLY !== undefined)
    process.stderr.write(`bench: --only ${ONLY.join(',')}: written to ${base}.json and .md\n`);
  process.stdout.write(`${table}\n`);
  if (measurementFailed) {
    process.stderr.write('bench: at least one measurement did not run (see ERROR rows)\n');
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${describe(error)}\n`);
  killAll();
  process.exit(1);
});
