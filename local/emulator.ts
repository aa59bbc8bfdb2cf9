/**
 * The AWS emulator: moto server (from the project's .venv) as a child process on a free loopback
 * port.
 *
 * No orphans: the child is killed when this process exits or receives SIGINT/SIGTERM (SIGTERM, then
 * SIGKILL after 3 s; when another handler of the signal stops gracefully — `phoenix local` — it is
 * left to that stop, with a 15 s fallback), and it also exits by itself when its stdin closes, which
 * happens when this process dies in any way, even by SIGKILL. It ignores SIGINT itself (a
 * terminal's Ctrl-C reaches the whole process group). An unexpected exit of the emulator is reported to
 * every `onExit` listener with its exit code and the tail of its stderr, and logged when nobody
 * listens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createLogger, type LocalLogger } from './log';
import { pythonEnvPaths, REPO_ROOT } from './python-env';

export interface EmulatorExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** false when the emulator died on its own (not through `stop()` or our exit handlers). */
  readonly expected: boolean;
  /** The last lines the emulator wrote (request log lines without errors left out). */
  readonly stderrTail: string;
}

export interface Emulator {
  /** `http://127.0.0.1:<port>`: point any AWS SDK or the AWS CLI here. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Milliseconds from spawning the process until it answered. */
  readonly startupMs: number;
  /** Whether the process is still alive. */
  readonly running: boolean;
  /** SIGTERM, then SIGKILL after 3 s; resolves when the process is gone. Idempotent. */
  stop(): Promise<void>;
  /** Forget every resource in every service and region (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  /** The realism layer's configuration (`GET /phoenix-world/config`). */
  realism(): Promise<RealismState>;
  /** Merge options into the realism layer's configuration (`POST /phoenix-world/config`). */
  configureRealism(config: RealismConfig): Promise<RealismState>;
  /** The calls answered and throttled per API, with their peak rates (`GET /phoenix-world/calls`; `{ reset: true }`: then start over). */
  apiCalls(options?: { reset?: boolean }): Promise<ApiCalls>;
  /** Called once when the process exits, expected or not. Returns an unsubscribe function. */
  onExit(listener: (exit: EmulatorExit) => void): () => void;
  /** What the emulator wrote lately (for error messages). */
  stderrTail(): string;
}

export interface StartEmulatorOptions {
  /** Fixed port. Default: a free loopback port. */
  readonly port?: number;
  /** Python interpreter of the environment with moto installed. Default: `.venv/bin/python`. */
  readonly python?: string;
  /** How long the emulator may take to answer. Default 30 s. */
  readonly startupTimeoutMs?: number;
  readonly log?: LocalLogger;
}

/** The emulator did not come up. */
export class EmulatorStartError extends Error {
  override readonly name = 'EmulatorStartError';
}
/** A request to the emulator's own API (`/moto-api/...`) failed. */
export class EmulatorApiError extends Error {
  override readonly name = 'EmulatorApiError';
}

const HOST = '127.0.0.1';
/** Where the realism layer's Python module lives. */
const REALISM_DIR = path.join(REPO_ROOT, 'local', 'realism');
const KILL_GRACE_MS = 3_000;
const TAIL_LINES = 80;

/**
 * Runs moto's server, exiting when stdin reaches EOF (the parent died): the orphan guard.
 * argv after `-c <code>` is what moto_server takes (`-H host -p port`).
 */
const LAUNCHER = [
  'import os, sys, threading',
  'def _watch_parent():',
  '    try:',
  '        while os.read(0, 65536):',
  '            pass',
  '    finally:',
  '        os._exit(0)',
  'threading.Thread(target=_watch_parent, daemon=True).start()',
  'import moto.server',
  // DynamoDB applies one item's conditional write atomically; moto checks and then writes with no
  // lock, so two concurrent conditional updates could both pass. One lock around DynamoDB requests
  // gives the emulator DynamoDB's semantics (the other services are left concurrent).
  '_dynamodb_lock = threading.Lock()',
  'class _AtomicDynamoDB(moto.server.DomainDispatcherApplication):',
  '    def __call__(self, environ, start_response):',
  '        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):',
  '            with _dynamodb_lock:',
  '                return list(super().__call__(environ, start_response))',
  '        return super().__call__(environ, start_response)',
  'moto.server.DomainDispatcherApplication = _AtomicDynamoDB',
  // The realism layer of the local world (local/realism/phoenix_realism.py): boot time, broken
  // images, bad zones, API limits, and its control endpoint /phoenix-world/config. Off by default.
  'sys.path.insert(0, os.environ["PHOENIX_REALISM_DIR"])',
  'import phoenix_realism',
  'phoenix_realism.install(moto.server)',
  // moto's own SIGTERM/SIGINT handler calls sys.exit(), which waits for the watcher thread. A
  // terminal's Ctrl-C reaches the whole process group: the emulator ignores SIGINT and lets its
  // parent stop it (SIGTERM) after the router and the handlers, so that their last calls succeed.
  'import signal',
  'moto.server.signal_handler = lambda signum, *_: None if signum == signal.SIGINT else os._exit(0)',
  'sys.argv[0] = "moto_server"',
  'sys.exit(moto.server.main())',
].join('\n');

/** Start one emulator. Retries once on another port if the chosen free port was taken meanwhile. */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const paths = pythonEnvPaths();
  const python = options.python ?? paths.python;
  if (options.python === undefined && (!existsSync(paths.python) || !existsSync(paths.motoServer))) {
    throw new EmulatorStartError(
      `The emulator is not installed: ${paths.motoServer} is missing. Run ensurePythonEnv() (local/python-env.ts) first.`,
    );
  }
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = options.port ?? (await findFreePort());
    try {
      return await launch(python, port, options);
    } catch (error) {
      lastError = error;
      const portTaken = error instanceof EmulatorStartError && /address already in use/i.test(error.message);
      if (!portTaken) throw error;
    }
  }
  throw lastError;
}

/** A free TCP port on 127.0.0.1 (bind to port 0, read the port, close). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen({ host: HOST, port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port of a probe socket'));
      });
    });
  });
}

class StderrTail {
  private readonly lines: string[] = [];
  private partial = '';

  push(chunk: string): void {
    const text = this.partial + chunk;
    const parts = text.split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    for (const raw of parts) this.add(raw);
  }

  private add(raw: string): void {
    // eslint-disable-next-line no-control-regex
    const line = raw.replace(/\u001b\[[0-9;]*m/g, '');
    if (line.trim() === '') return;
    // Werkzeug's request log: keep only server errors (5xx).
    const request = /^\S+ - - \[[^\]]+\] ".*" (\d{3}) /.exec(line);
    if (request?.[1] !== undefined && !request[1].startsWith('5')) return;
    this.lines.push(line);
    if (this.lines.length > TAIL_LINES) this.lines.shift();
  }

  text(): string {
    return [...this.lines, ...(this.partial ? [this.partial] : [])].join('\n');
  }
}

async function launch(python: string, port: number, options: StartEmulatorOptions): Promise<Emulator> {
  const log = options.log ?? createLogger();
  const endpoint = `http://${HOST}:${port}`;
  const started = Date.now();
  const child = spawn(python, ['-c', LAUNCHER, '-H', HOST, '-p', String(port)], {
    detached: false,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      PHOENIX_REALISM_DIR: REALISM_DIR,
    },
  });
  const tail = new StderrTail();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => tail.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => tail.push(chunk));
  // Keep stdin open (the orphan guard reads it) but never let it keep this process alive.
  child.stdin?.on('error', () => undefined);
  unrefStreams(child);

  let expected = false;
  let exitInfo: EmulatorExit | undefined;
  const listeners = new Set<(exit: EmulatorExit) => void>();
  let spawnError: Error | undefined;
  child.on('error', (error) => {
    spawnError = error;
  });
  const exited = new Promise<EmulatorExit>((resolve) => {
    child.on('exit', (code, signal) => {
      processRegistry.delete(child);
      exitInfo = { code, signal, expected: expected || shuttingDown, stderrTail: tail.text() };
      resolve(exitInfo);
    });
  });
  processRegistry.add(child);
  installProcessHandlers();

  // Wait until it answers, it dies, or the deadline passes.
  const deadline = started + (options.startupTimeoutMs ?? 30_000);
  for (;;) {
    if (spawnError !== undefined) {
      throw new EmulatorStartError(`Could not start the emulator (${python}): ${spawnError.message}`);
    }
    if (exitInfo !== undefined) {
      throw new EmulatorStartError(
        `The emulator exited during startup (${describeExit(exitInfo)}) on ${endpoint}. Its output:\n${exitInfo.stderrTail}`,
      );
    }
    if (await answers(endpoint)) break;
    if (Date.now() > deadline) {
      expected = true;
      await terminate(child, exited);
      throw new EmulatorStartError(
        `The emulator did not answer on ${endpoint} within ${options.startupTimeoutMs ?? 30_000} ms. Its output:\n${tail.text()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const startupMs = Date.now() - started;
  log.debug('emulator started', { endpoint, pid: child.pid, startupMs });

  void exited.then((exit) => {
    if (listeners.size === 0 && !exit.expected) {
      log.error(`the AWS emulator (pid ${String(child.pid)}) exited unexpectedly: ${describeExit(exit)}`, {
        stderrTail: exit.stderrTail,
      });
    }
    for (const listener of listeners) {
      try {
        listener(exit);
      } catch (error) {
        log.error('an emulator exit listener threw', { error });
      }
    }
  });

  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port,
    pid: child.pid ?? -1,
    startupMs,
    get running() {
      return exitInfo === undefined;
    },
    stop() {
      expected = true;
      stopping ??= terminate(child, exited);
      return stopping;
    },
    realism: () => readRealism(endpoint),
    configureRealism: (config) => configureRealism(endpoint, config),
    apiCalls: (options) => readApiCalls(endpoint, options),
    async reset() {
      if (exitInfo !== undefined) {
        throw new EmulatorApiError(`Cannot reset the emulator: it has exited (${describeExit(exitInfo)})`);
      }
      await resetEmulator(endpoint);
    },
    onExit(listener) {
      if (exitInfo !== undefined) {
        const info = exitInfo;
        queueMicrotask(() => listener(info));
        return () => undefined;
      }
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stderrTail: () => tail.text(),
  };
}

/** One token bucket: `burst` tokens at most, `rate` tokens back per real second. */
export interface TokenBucket {
  readonly burst: number;
  readonly rate: number;
}

/**
 * The realism layer of the local world (local/realism/phoenix_realism.py, loaded into the emulator
 * process): what the emulator's APIs report, as AWS would. Every option is off by default, and
 * `POST /moto-api/reset` turns them all off again. See docs/local-runtime.md, "Realism".
 */
export interface RealismConfig {
  /** Simulated seconds from an instance's launch until it is InService (Pending, initializing). 0: at once. */
  readonly bootSeconds?: number;
  /** Real seconds per simulated second (the local runtime's time scale). Default 1. */
  readonly timeScale?: number;
  /** Targets are `initial` for the target group's health-check interval × healthy threshold after boot. */
  readonly targetHealthChecks?: boolean;
  /** Availability zones whose instances fail their health and status checks. */
  readonly badZones?: readonly string[];
  /** Instances of an AMI tagged `phoenix-world:broken=true` fail their checks. Default true. */
  readonly brokenImages?: boolean;
  /**
   * API limits: `true` for AWS's buckets, or buckets by `service:Action` / `service:*read` /
   * `service:*mutating` over them (e.g. `{ 'ec2:RunInstances': { burst: 10, rate: 1 } }`).
   */
  readonly throttling?: boolean | Readonly<Record<string, TokenBucket>>;
}

/** The configuration as the emulator holds it, with the throttled calls counted per `service:Action`. */
export interface RealismState extends Required<RealismConfig> {
  readonly throttledCalls: Readonly<Record<string, number>>;
}

/** The AMI tag that marks an image broken: a tag of the local world, read only by the realism layer. */
export const BROKEN_IMAGE_TAG = 'phoenix-world:broken';

/** `GET /phoenix-world/config` on any running emulator. */
export async function readRealism(endpoint: string): Promise<RealismState> {
  return realismCall(endpoint, { method: 'GET' });
}

/** `POST /phoenix-world/config` on any running emulator: merge `config` into the realism layer's. */
export async function configureRealism(endpoint: string, config: RealismConfig): Promise<RealismState> {
  return realismCall(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(config),
  });
}

async function realismCall(endpoint: string, init: RequestInit): Promise<RealismState> {
  let response: Response;
  try {
    response = await fetch(`${endpoint}/phoenix-world/config`, {
      ...init,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new EmulatorApiError(
      `Could not reach the realism layer at ${endpoint}: ${(error as Error).message}`,
    );
  }
  const body = await response.text();
  if (!response.ok) {
    throw new EmulatorApiError(`The realism layer at ${endpoint} answered HTTP ${response.status}: ${body}`);
  }
  return JSON.parse(body) as RealismState;
}

/** What the realism layer counted for one `service:Action` (`GET /phoenix-world/calls`). */
export interface ApiCallCount {
  /** Calls passed on to moto (not throttled). */
  readonly answered: number;
  /** Calls answered with the API's throttling error. */
  readonly throttled: number;
  /** The most calls answered in any 1-second window (real seconds). */
  readonly peakPerSecond: number;
  /** With a token bucket over this API (`throttling`): the bucket and the most calls answered in any window of its refill period. */
  readonly bucket?: {
    /** The bucket's key: `service:Action`, `service:*read` or `service:*mutating` (shared by every action under it). */
    readonly key: string;
    readonly burst: number;
    readonly rate: number;
    /** The refill period: burst / rate seconds. */
    readonly windowSeconds: number;
    /** The most calls of this action answered in any such window. */
    readonly peakInWindow: number;
    /** What the bucket lets through at most in one window: burst + rate × window. */
    readonly allowedInWindow: number;
    /** What it lets through at most in one second: burst + rate. */
    readonly allowedPerSecond: number;
  };
}

/** Per `service:Action` (`ec2:RunInstances`), since the emulator started or was reset. */
export type ApiCalls = Readonly<Record<string, ApiCallCount>>;

/** `GET /phoenix-world/calls` on any running emulator; `reset`: the counts so far, then `DELETE` (start over). */
export async function readApiCalls(endpoint: string, options: { reset?: boolean } = {}): Promise<ApiCalls> {
  const counts = await callsRequest(endpoint, 'GET');
  if (options.reset === true) await callsRequest(endpoint, 'DELETE');
  return counts;
}

async function callsRequest(endpoint: string, method: 'GET' | 'DELETE'): Promise<ApiCalls> {
  let response: Response;
  try {
    response = await fetch(`${endpoint}/phoenix-world/calls`, {
      method,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new EmulatorApiError(
      `Could not reach the realism layer's call counts at ${endpoint}: ${(error as Error).message}`,
    );
  }
  const body = await response.text();
  if (!response.ok) {
    throw new EmulatorApiError(`The realism layer at ${endpoint} answered HTTP ${response.status}: ${body}`);
  }
  return JSON.parse(body) as ApiCalls;
}

/** `POST /moto-api/reset` on any running emulator. */
export async function resetEmulator(endpoint: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`${endpoint}/moto-api/reset`, {
      method: 'POST',
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new EmulatorApiError(`Could not reset the emulator at ${endpoint}: ${(error as Error).message}`);
  }
  const body = await response.text();
  if (!response.ok) {
    throw new EmulatorApiError(
      `Resetting the emulator at ${endpoint} answered HTTP ${response.status}: ${body}`,
    );
  }
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

function describeExit(exit: Pick<EmulatorExit, 'code' | 'signal'>): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
}

function unrefStreams(child: ChildProcess): void {
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
  child.unref();
}

async function terminate(child: ChildProcess, exited: Promise<EmulatorExit>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, KILL_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

// ---- process-wide cleanup: no orphans ---------------------------------------------------------

const processRegistry = new Set<ChildProcess>();
/** How long a graceful stop (another signal handler) may take before the children are killed anyway. */
const GRACEFUL_STOP_MS = 15_000;
let handlersInstalled = false;
let shuttingDown = false;

function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    shuttingDown = true;
    for (const child of processRegistry) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      shuttingDown = true;
      if (process.listenerCount(signal) > 1) {
        // Someone else handles this signal (the CLI's graceful stop): it stops the router and the
        // handlers first, then the emulator. Killing the emulator now would fail their last calls
        // (every queue poll refused). Only if that stop hangs are the children killed, later.
        setTimeout(() => {
          for (const child of processRegistry) child.kill('SIGKILL');
        }, GRACEFUL_STOP_MS).unref();
        return;
      }
      const children = [...processRegistry];
      for (const child of children) child.kill('SIGTERM');
      const killTimer = setTimeout(() => {
        for (const child of children) child.kill('SIGKILL');
      }, KILL_GRACE_MS);
      const gone = children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve();
            else child.once('exit', () => resolve());
          }),
      );
      void Promise.all(gone).then(() => {
        clearTimeout(killTimer);
        // Nobody else handles this signal: restore the default behaviour, die of it.
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      });
    };
    process.on(signal, onSignal);
  }
}
