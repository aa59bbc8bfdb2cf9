/**
 * The emulator process: starts on a free loopback port, answers, resets, stops without leaving a
 * process behind, and reports an unexpected death with its exit status and output.
 */
import { CreateQueueCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { findFreePort, startEmulator, type Emulator, type EmulatorExit } from '../../local/emulator';
import { silentLogger } from '../../local/log';
import { useEmulator } from '../support/emulator';

const shared = useEmulator();
const started: Emulator[] = [];

afterAll(async () => {
  await Promise.all(started.map((e) => e.stop()));
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    return (await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

describe('emulator', () => {
  it('reset forgets every resource', async () => {
    const sqs = new SQSClient(shared.clientConfig());
    await sqs.send(new CreateQueueCommand({ QueueName: 'before-reset' }));
    expect((await sqs.send(new ListQueuesCommand({}))).QueueUrls).toHaveLength(1);
    await shared.reset();
    expect((await sqs.send(new ListQueuesCommand({}))).QueueUrls ?? []).toHaveLength(0);
    sqs.destroy();
  });

  it('starts on a free loopback port and stops without leaving its process', async () => {
    const emulator = await startEmulator({ log: silentLogger });
    started.push(emulator);
    expect(emulator.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emulator.endpoint).not.toBe(shared.endpoint);
    expect(emulator.startupMs).toBeGreaterThan(0);
    expect(await answers(emulator.endpoint)).toBe(true);
    expect(emulator.running).toBe(true);

    const exits: EmulatorExit[] = [];
    emulator.onExit((exit) => exits.push(exit));
    await emulator.stop();
    await emulator.stop(); // idempotent
    expect(emulator.running).toBe(false);
    expect(isAlive(emulator.pid)).toBe(false);
    expect(await answers(emulator.endpoint)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(exits).toHaveLength(1);
    expect(exits[0]!.expected).toBe(true);
    await expect(emulator.reset()).rejects.toThrow(/has exited/);
  });

  it('reports an unexpected death with its exit status and output', async () => {
    const emulator = await startEmulator({ log: silentLogger });
    started.push(emulator);
    const exited = new Promise<EmulatorExit>((resolve) => emulator.onExit(resolve));
    process.kill(emulator.pid, 'SIGKILL');
    const exit = await exited;
    expect(exit.expected).toBe(false);
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.stderrTail).toContain('Running on http://127.0.0.1');
    expect(emulator.running).toBe(false);
  });

  it('fails clearly when its port is taken', async () => {
    const port = await findFreePort();
    const { createServer } = await import('node:net');
    const blocker = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      await expect(
        startEmulator({ port, log: silentLogger, startupTimeoutMs: 10_000 }),
      ).rejects.toMatchObject({
        name: 'EmulatorStartError',
        message: expect.stringMatching(/exited during startup[\s\S]*(in use|Address already)/i),
      });
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
