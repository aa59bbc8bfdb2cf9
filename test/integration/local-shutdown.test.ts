/**
 * `phoenix local` stops cleanly on Ctrl-C: a terminal sends SIGINT to the whole process group (the
 * CLI and its emulator child). The emulator ignores it and is stopped by the CLI after the router
 * and the handlers, so no last call is refused on the way out, the process exits 0 and the
 * emulator's port is closed; SIGTERM to the CLI alone does the same.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = path.join(__dirname, '..', '..');

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

async function startThenSignal(signal: 'SIGINT' | 'SIGTERM', toGroup: boolean) {
  const child = spawn(process.execPath, ['bin/phoenix.js', 'local', '--boot-seconds', '0'], {
    cwd: REPO_ROOT,
    detached: true, // its own process group, like a shell's foreground job
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', PHOENIX_LOCAL_LOG_LEVEL: 'info' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /PHOENIX_ENDPOINT=http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout);
      if (match !== null) {
        clearInterval(timer);
        resolve(Number(match[1]));
      }
    }, 100);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`phoenix local exited (${String(code)}) before it was ready:\n${stderr}`));
    });
  });
  const afterReady = stderr.length;
  process.kill(toGroup ? -child.pid! : child.pid!, signal);
  const code = await exited;
  return { code, port, shutdownLog: stderr.slice(afterReady) };
}

describe('phoenix local stops cleanly', () => {
  it.each([
    ['SIGINT', true],
    ['SIGTERM', false],
  ] as const)(
    'on %s (to the process group: %s): exit 0, no refused call on the way out, the emulator gone',
    async (signal, toGroup) => {
      const { code, port, shutdownLog } = await startThenSignal(signal, toGroup);
      expect(code).toBe(0);
      expect(shutdownLog).toContain(`${signal}: stopping`);
      expect(shutdownLog).not.toMatch(/ECONNREFUSED|WARN|ERROR/);
      expect(await refused(port)).toBe(true);
    },
    120_000,
  );
});
