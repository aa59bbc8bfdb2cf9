/**
 * The project's Python environment: current after the global setup, and a missing or too old
 * interpreter fails with a named error that says what to do.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ensurePythonEnv,
  isPythonEnvCurrent,
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
});
