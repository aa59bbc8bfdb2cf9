/**
 * The project's Python environment: current after the global setup, and a missing or too old
 * interpreter fails with a named error that says what to do. The first-run install prints one
 * line per step, pip's whole output going to a log whose tail a failure quotes (a stand-in
 * interpreter plays venv and pip, so no package index is needed).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ensurePythonEnv,
  isPythonEnvCurrent,
  PIP_LOGS,
  PythonEnvInstallError,
  pythonEnvPaths,
  PythonNotFoundError,
  PythonTooOldError,
  requirementsHash,
} from '../../local/python-env';

const scratch = mkdtempSync(path.join(tmpdir(), 'phoenix-python-env-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function fakeRoot(): string {
  const root = mkdtempSync(path.join(scratch, 'root-'));
  writeFileSync(path.join(root, 'requirements.txt'), 'moto[server]==5.2.5\n');
  return root;
}

describe('python environment', () => {
  it('is current after the global setup: stamp = sha256 of requirements.txt, moto_server present', async () => {
    const paths = pythonEnvPaths();
    expect(isPythonEnvCurrent(paths)).toBe(true);
    const env = await ensurePythonEnv({ progress: () => undefined });
    expect(env.installed).toBe(false);
    expect(env.pythonVersion).toMatch(/^3\.(1\d|[2-9]\d)\.\d+$/);
    expect(requirementsHash(paths.requirements)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names a missing interpreter', async () => {
    await expect(
      ensurePythonEnv({
        root: fakeRoot(),
        python: path.join(scratch, 'no-such-python3'),
        progress: () => undefined,
      }),
    ).rejects.toMatchObject({
      name: 'PythonNotFoundError',
      message: expect.stringContaining('PHOENIX_PYTHON'),
    });
  });

  it('refuses a Python older than 3.10', async () => {
    const old = path.join(scratch, 'python3.8');
    writeFileSync(old, '#!/bin/sh\necho 3.8.10\n');
    chmodSync(old, 0o755);
    const error: unknown = await ensurePythonEnv({
      root: fakeRoot(),
      python: old,
      progress: () => undefined,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PythonTooOldError);
    expect((error as Error).message).toContain('is Python 3.8.10');
    expect(error).not.toBeInstanceOf(PythonNotFoundError);
  });

  it("installs with one progress line per step, pip's output only in .phoenix/pip-install.log", async () => {
    const root = fakeRoot();
    const progress: string[] = [];
    const env = await ensurePythonEnv({
      root,
      python: standIn('pip-ok', 0),
      progress: (t) => progress.push(t),
    });
    expect(env.installed).toBe(true);
    const lines = progress.join('').split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^creating \.venv with .*pip-ok \(Python 3\.11\.7\) … done in \d+(\.\d)? s$/),
      expect.stringMatching(
        /^installing the AWS emulator \(moto\) into \.venv \(first run only\) … done in \d+(\.\d)? s$/,
      ),
      '',
    ]);
    expect(progress.join('')).not.toContain('Collecting');
    const log = readFileSync(path.join(root, '.phoenix', PIP_LOGS.emulator), 'utf8');
    expect(log).toContain('-m venv');
    expect(log).toContain('Collecting package-0\n');
    expect(log).toContain('Successfully installed moto');
    expect(isPythonEnvCurrent(pythonEnvPaths(root))).toBe(true);
  });

  it("fails a pip install with a named error quoting the log's tail and its path; the progress line says failed", async () => {
    const root = fakeRoot();
    const progress: string[] = [];
    const error: unknown = await ensurePythonEnv({
      root,
      python: standIn('pip-fails', 1),
      progress: (t) => progress.push(t),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PythonEnvInstallError);
    const message = (error as Error).message;
    const logPath = path.join(root, '.phoenix', PIP_LOGS.emulator);
    expect(message).toContain(logPath);
    expect(message).toContain('ERROR: No matching distribution found for moto[server]==5.2.5');
    expect(message).toContain('Collecting package-199');
    expect(message).not.toContain('Collecting package-0\n');
    expect(readFileSync(logPath, 'utf8')).toContain('Collecting package-0\n');
    expect(progress.join('')).toMatch(/installing the AWS emulator .* … failed after \d+(\.\d)? s\n$/);
    expect(progress.join('')).not.toContain('Collecting');
    expect(existsSync(path.join(root, '.venv', '.phoenix-requirements.sha256'))).toBe(false);
  });
});

/**
 * A stand-in interpreter: reports Python 3.11.7; `-m venv DIR` makes DIR/bin/python (itself) and
 * DIR/bin/moto_server; `-m pip install` prints 200 lines, then exits with `pipExit`.
 */
function standIn(name: string, pipExit: number): string {
  const file = path.join(scratch, name);
  writeFileSync(
    file,
    `#!/bin/sh
case "$1" in
  -c) echo 3.11.7 ;;
  -m)
    if [ "$2" = venv ]; then
      mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && printf '#!/bin/sh\\n' > "$3/bin/moto_server" && chmod +x "$3/bin/moto_server"
      echo "venv created in $3"
    else
      i=0
      while [ $i -lt 200 ]; do echo "Collecting package-$i"; i=$((i + 1)); done
      if [ ${pipExit} -ne 0 ]; then echo "ERROR: No matching distribution found for moto[server]==5.2.5" >&2; exit ${pipExit}; fi
      echo "Successfully installed moto"
    fi ;;
esac
`,
  );
  chmodSync(file, 0o755);
  return file;
}
