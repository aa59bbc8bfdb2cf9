/**
 * The Python side of the local runtime: a project-local virtual environment `.venv/` with the
 * pinned `requirements.txt` (moto server, cfn-lint) installed; and, apart, the security scanner's
 * `.venv/checkov/`, a virtual environment of its own with `requirements-checkov.txt` (Checkov):
 * Checkov pins boto3/botocore far below the emulator's, and in one environment it would change the
 * botocore that moto serves from (inside `.venv/`, it is ignored and shared where `.venv` is).
 *
 * `ensurePythonEnv()` is cheap when the environment is current (two file reads and a hash). It
 * (re)installs when `.venv/bin/python` is missing or when the stamp `.venv/.phoenix-requirements.sha256`
 * differs from the hash of `requirements.txt`. It prints one line per step (`creating .venv … done
 * in 2.1 s`, `installing the AWS emulator (moto) into .venv … done in 41 s`); the full output of
 * venv and pip goes to a log file (`.phoenix/pip-install.log`, `.phoenix/pip-install-checkov.log`),
 * whose tail and path the error quotes when a step fails. `ensureScannerEnv()` does the same for
 * `.venv/checkov/`.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';

/** The repository root (this file lives in `<root>/local`). */
export const REPO_ROOT = path.resolve(__dirname, '..');

/** The oldest Python the emulator supports (moto 5.2 needs 3.9+, we ask 3.10+ for its dependencies). */
export const MIN_PYTHON = { major: 3, minor: 10 } as const;

export interface PythonEnvPaths {
  /** `<root>/.venv` */
  readonly venvDir: string;
  /** `<root>/.venv/bin/python` */
  readonly python: string;
  /** `<root>/.venv/bin/pip` */
  readonly pip: string;
  /** `<root>/.venv/bin/moto_server`: the emulator. */
  readonly motoServer: string;
  /** `<root>/.venv/bin/cfn-lint`: the CloudFormation linter. */
  readonly cfnLint: string;
  /** `<root>/requirements.txt` */
  readonly requirements: string;
  /** `<root>/.venv/.phoenix-requirements.sha256`: hash of the requirements last installed. */
  readonly stamp: string;
}

/** Where the environment's pieces live for the repository at `root`. */
export function pythonEnvPaths(root: string = REPO_ROOT): PythonEnvPaths {
  const venvDir = path.join(root, '.venv');
  const bin = process.platform === 'win32' ? path.join(venvDir, 'Scripts') : path.join(venvDir, 'bin');
  const exe = process.platform === 'win32' ? '.exe' : '';
  return {
    venvDir,
    python: path.join(bin, `python${exe}`),
    pip: path.join(bin, `pip${exe}`),
    motoServer: path.join(bin, `moto_server${exe}`),
    cfnLint: path.join(bin, `cfn-lint${exe}`),
    requirements: path.join(root, 'requirements.txt'),
    stamp: path.join(venvDir, '.phoenix-requirements.sha256'),
  };
}

/** The moto server executable of this repository's environment (exists after `ensurePythonEnv`). */
export const MOTO_SERVER_PATH = pythonEnvPaths().motoServer;
/** The cfn-lint executable of this repository's environment (exists after `ensurePythonEnv`). */
export const CFN_LINT_PATH = pythonEnvPaths().cfnLint;

export interface ScannerEnvPaths {
  /** `<root>/.venv/checkov` */
  readonly venvDir: string;
  /** `<root>/.venv/checkov/bin/python` */
  readonly python: string;
  /** `<root>/.venv/checkov/bin/checkov`: the template scanner. */
  readonly checkov: string;
  /** `<root>/requirements-checkov.txt` */
  readonly requirements: string;
  /** `<root>/.venv/checkov/.phoenix-requirements.sha256`: hash of the requirements last installed. */
  readonly stamp: string;
}

/** Where the scanner environment's pieces live for the repository at `root`. */
export function scannerEnvPaths(root: string = REPO_ROOT): ScannerEnvPaths {
  const venvDir = path.join(root, '.venv', 'checkov');
  const bin = process.platform === 'win32' ? path.join(venvDir, 'Scripts') : path.join(venvDir, 'bin');
  const exe = process.platform === 'win32' ? '.exe' : '';
  return {
    venvDir,
    python: path.join(bin, `python${exe}`),
    checkov: path.join(bin, `checkov${exe}`),
    requirements: path.join(root, 'requirements-checkov.txt'),
    stamp: path.join(venvDir, '.phoenix-requirements.sha256'),
  };
}

/**
 * The Checkov executable to run: `$PHOENIX_CHECKOV` when set (a Checkov of your own; then
 * `ensureScannerEnv` installs nothing), else the scanner environment's.
 */
export function checkovPath(root: string = REPO_ROOT): string {
  return process.env.PHOENIX_CHECKOV ?? scannerEnvPaths(root).checkov;
}

/** No usable `python3` on PATH (or where `PHOENIX_PYTHON` points). */
export class PythonNotFoundError extends Error {
  override readonly name = 'PythonNotFoundError';
}
/** `python3` exists but is older than `MIN_PYTHON`. */
export class PythonTooOldError extends Error {
  override readonly name = 'PythonTooOldError';
}
/** Creating the virtual environment or installing the requirements failed. */
export class PythonEnvInstallError extends Error {
  override readonly name = 'PythonEnvInstallError';
}

export interface EnsurePythonEnvOptions {
  /** Repository root. Default: the root of this checkout. */
  readonly root?: string;
  /** The interpreter that creates the environment. Default: `$PHOENIX_PYTHON` or `python3`. */
  readonly python?: string;
  /** Reinstall even when the stamp matches. */
  readonly force?: boolean;
  /** Where progress goes. Default: process.stderr. */
  readonly progress?: (text: string) => void;
  /** How long to wait for another process that is installing at the same time. Default 10 min. */
  readonly lockTimeoutMs?: number;
}

export interface PythonEnv extends PythonEnvPaths {
  /** Whether this call created or updated the environment. */
  readonly installed: boolean;
  /** Python version of the environment, e.g. `3.11.7`. */
  readonly pythonVersion: string;
}

/** sha256 of requirements.txt, hex. */
export function requirementsHash(requirementsFile: string): string {
  return createHash('sha256').update(readFileSync(requirementsFile)).digest('hex');
}

/** Is the environment at `paths` current (interpreter present, stamp equal to the requirements' hash)? */
export function isPythonEnvCurrent(paths: PythonEnvPaths = pythonEnvPaths()): boolean {
  if (!existsSync(paths.python) || !existsSync(paths.motoServer) || !existsSync(paths.stamp)) return false;
  return readFileSync(paths.stamp, 'utf8').trim() === requirementsHash(paths.requirements);
}

/** Is the scanner environment current (Checkov present, stamp equal to the requirements' hash)? */
export function isScannerEnvCurrent(paths: ScannerEnvPaths = scannerEnvPaths()): boolean {
  if (!existsSync(paths.python) || !existsSync(paths.checkov) || !existsSync(paths.stamp)) return false;
  return readFileSync(paths.stamp, 'utf8').trim() === requirementsHash(paths.requirements);
}

/**
 * Make sure `<root>/.venv` exists with requirements.txt installed. Creates it (`python3 -m venv`)
 * and installs (`pip install -r requirements.txt`) only when needed: first run, or after
 * requirements.txt changed. Concurrent callers (two test runs) wait for each other.
 */
export async function ensurePythonEnv(options: EnsurePythonEnvOptions = {}): Promise<PythonEnv> {
  const root = options.root ?? REPO_ROOT;
  const paths = pythonEnvPaths(root);
  const installed = await ensureVenv(
    {
      root,
      venvDir: paths.venvDir,
      python: paths.python,
      requirements: paths.requirements,
      stamp: paths.stamp,
      lockName: 'python-env.lock',
      logName: PIP_LOGS.emulator,
      isCurrent: () => isPythonEnvCurrent(paths),
      what: 'the AWS emulator (moto) into .venv',
      verify: () => {
        if (!existsSync(paths.motoServer)) {
          throw new PythonEnvInstallError(
            `pip finished but ${paths.motoServer} is missing: does requirements.txt still pin moto[server]?`,
          );
        }
      },
    },
    options,
  );
  return { ...paths, installed, pythonVersion: await pythonVersionOf(paths.python) };
}

export interface ScannerEnv extends ScannerEnvPaths {
  /** Whether this call created or updated the environment. */
  readonly installed: boolean;
}

/**
 * Make sure `<root>/.venv/checkov` exists with requirements-checkov.txt installed (Checkov, for
 * the template scan of test/integration/checkov.test.ts), as `ensurePythonEnv` does for `.venv`.
 * Installs nothing when `PHOENIX_CHECKOV` names a Checkov of your own.
 */
export async function ensureScannerEnv(options: EnsurePythonEnvOptions = {}): Promise<ScannerEnv> {
  const root = options.root ?? REPO_ROOT;
  const paths = scannerEnvPaths(root);
  if (process.env.PHOENIX_CHECKOV !== undefined) return { ...paths, installed: false };
  const installed = await ensureVenv(
    {
      root,
      venvDir: paths.venvDir,
      python: paths.python,
      requirements: paths.requirements,
      stamp: paths.stamp,
      lockName: 'scanner-env.lock',
      logName: PIP_LOGS.scanner,
      isCurrent: () => isScannerEnvCurrent(paths),
      what: 'the template scanner (Checkov) into .venv/checkov',
      verify: () => {
        if (!existsSync(paths.checkov)) {
          throw new PythonEnvInstallError(
            `pip finished but ${paths.checkov} is missing: does requirements-checkov.txt still pin checkov?`,
          );
        }
      },
    },
    options,
  );
  return { ...paths, installed };
}

/** One virtual environment: where it lives, what it installs, how to tell it is current. */
interface VenvSpec {
  readonly root: string;
  readonly venvDir: string;
  readonly python: string;
  readonly requirements: string;
  readonly stamp: string;
  /** The lock's directory name under `<root>/.phoenix`. */
  readonly lockName: string;
  /** The install log's file name under `<root>/.phoenix` (see `PIP_LOGS`). */
  readonly logName: string;
  readonly isCurrent: () => boolean;
  /** For the progress line: `installing <what> (first run only) … done in 41 s`. */
  readonly what: string;
  /** Throws when the install left out what the environment is for. */
  readonly verify: () => void;
}

/** The install logs (venv's and pip's whole output) under `<root>/.phoenix`, by environment. */
export const PIP_LOGS = { emulator: 'pip-install.log', scanner: 'pip-install-checkov.log' } as const;

/** How many of the log's last lines a failed step's error quotes. */
const LOG_TAIL_LINES = 25;

/**
 * One step of an install as one line of progress: `<label> … ` when it starts, `done in 41 s` or
 * `failed after 3.0 s` when it ends (the error says why).
 */
async function progressStep(progress: (text: string) => void, label: string, run: () => Promise<void>) {
  const started = Date.now();
  const took = () => {
    const seconds = (Date.now() - started) / 1000;
    return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  };
  progress(`${label} … `);
  try {
    await run();
  } catch (error) {
    progress(`failed after ${took()}\n`);
    throw error;
  }
  progress(`done in ${took()}\n`);
}

/** Creates or updates one environment when needed; true when it did. */
async function ensureVenv(spec: VenvSpec, options: EnsurePythonEnvOptions): Promise<boolean> {
  const { root } = spec;
  const progress = options.progress ?? ((text: string) => void process.stderr.write(text));
  const name = path.relative(root, spec.venvDir);
  if (!existsSync(spec.requirements)) {
    throw new PythonEnvInstallError(`${path.basename(spec.requirements)} not found at ${spec.requirements}`);
  }
  if (!options.force && spec.isCurrent()) return false;

  const release = await acquireLock(
    path.join(root, '.phoenix', spec.lockName),
    options.lockTimeoutMs ?? 600_000,
  );
  try {
    // Another process may have finished the job while we waited.
    if (!options.force && spec.isCurrent()) return false;
    const log = path.join(root, '.phoenix', spec.logName);
    writeFileSync(log, `# ${new Date().toISOString()}: installing ${spec.what}\n`);

    if (existsSync(spec.python)) {
      const version = await pythonVersionOf(spec.python).catch(() => undefined);
      if (version === undefined || !isSupported(version)) {
        progress(`the existing ${name} (Python ${version ?? 'unusable'}) is replaced\n`);
        rmSync(spec.venvDir, { recursive: true, force: true });
      }
    }
    if (!existsSync(spec.python)) {
      const basePython = options.python ?? process.env.PHOENIX_PYTHON ?? 'python3';
      const baseVersion = await checkBasePython(basePython);
      await progressStep(
        progress,
        `creating ${name} with ${basePython} (Python ${baseVersion})`,
        async () => {
          if (existsSync(spec.venvDir)) rmSync(spec.venvDir, { recursive: true, force: true });
          await run(basePython, ['-m', 'venv', spec.venvDir], root, 'create the virtual environment', log);
        },
      );
    }
    await progressStep(progress, `installing ${spec.what} (first run only)`, async () => {
      await run(
        spec.python,
        ['-m', 'pip', 'install', '--disable-pip-version-check', '-r', spec.requirements],
        root,
        `install ${path.basename(spec.requirements)} into ${name} (pip needs to reach the Python package index)`,
        log,
      );
      spec.verify();
    });
    writeFileSync(spec.stamp, `${requirementsHash(spec.requirements)}\n`);
    return true;
  } finally {
    release();
  }
}

function isSupported(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > MIN_PYTHON.major || (major === MIN_PYTHON.major && minor >= MIN_PYTHON.minor);
}

async function checkBasePython(python: string): Promise<string> {
  let version: string;
  try {
    version = await pythonVersionOf(python);
  } catch (error) {
    throw new PythonNotFoundError(
      `Python ${MIN_PYTHON.major}.${MIN_PYTHON.minor}+ is needed for the local AWS emulator, but "${python}" could not be run (${(error as Error).message}). Install Python 3 (e.g. apt-get install python3 python3-venv) or set PHOENIX_PYTHON to an interpreter.`,
    );
  }
  if (!isSupported(version)) {
    throw new PythonTooOldError(
      `Python ${MIN_PYTHON.major}.${MIN_PYTHON.minor}+ is needed for the local AWS emulator, but "${python}" is Python ${version}. Install a newer Python or set PHOENIX_PYTHON to one.`,
    );
  }
  return version;
}

/** `major.minor.micro` of an interpreter; rejects when it cannot be run. */
function pythonVersionOf(python: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && /^\d+\.\d+\.\d+$/.test(out.trim())) resolve(out.trim());
      else reject(new Error(`exit code ${String(code)}${err ? `: ${err.trim()}` : ''}`));
    });
  });
}

/**
 * Run a command with its stdout and stderr appended to the install log `log`; when it fails, the
 * error quotes the log's last lines and names the file.
 */
function run(command: string, args: string[], cwd: string, what: string, log: string): Promise<void> {
  const commandLine = [command, ...args].join(' ');
  writeFileSync(log, `$ ${commandLine}\n`, { flag: 'a' });
  const fd = openSync(log, 'a');
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, PIP_NO_INPUT: '1' },
    });
    child.on('error', (error) =>
      reject(new PythonEnvInstallError(`Could not ${what}: ${command} failed to start: ${error.message}`)),
    );
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new PythonEnvInstallError(
            `Could not ${what}: \`${commandLine}\` exited with ${signal ?? `code ${String(code)}`}. The last lines of its log (all of it in ${log}):\n${logTail(log)}`,
          ),
        );
    });
  }).finally(() => closeSync(fd));
}

/** The last `LOG_TAIL_LINES` lines of a log, indented. */
function logTail(log: string): string {
  const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
  return lines
    .slice(-LOG_TAIL_LINES)
    .map((line) => `  ${line}`)
    .join('\n');
}

/** A lock directory: mkdir is atomic. Stale after `timeoutMs` (a crashed installer). */
async function acquireLock(lockDir: string, timeoutMs: number): Promise<() => void> {
  mkdirSync(path.dirname(lockDir), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lockDir);
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let age = 0;
      try {
        age = Date.now() - statSync(lockDir).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age > timeoutMs) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new PythonEnvInstallError(
          `Timed out waiting for another process installing .venv (lock ${lockDir}); remove it if no install is running.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
