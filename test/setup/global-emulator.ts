/**
 * vitest globalSetup of the emulator tiers (integration, e2e): one AWS emulator (moto server) for
 * the whole test run.
 *
 * Ensures the project's .venv (installs moto on the first run), starts the emulator on a free
 * loopback port, hands its endpoint to the test files (`inject('emulatorEndpoint')`, see
 * test/support/emulator.ts) and stops it when the run ends. An emulator that dies during the run
 * is reported on stderr with its exit code and last output.
 *
 * Each tier (vitest project) runs this setup; when both run, the second reuses the emulator of the
 * first (their files run one after another, see vitest.config.mts) and the last teardown stops it.
 */
import type { TestProject } from 'vitest/node';
import { type Emulator, startEmulator } from '../../local/emulator';
import { ensurePythonEnv } from '../../local/python-env';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the run's emulator. */
    emulatorEndpoint: string;
  }
}

interface SharedEmulator {
  readonly emulator: Promise<Emulator>;
  users: number;
}

// The projects' global setups run in the one vitest process, each module loaded on its own:
// the shared emulator is kept on globalThis.
const KEY = Symbol.for('phoenix.test.emulator');
const holder = globalThis as { [KEY]?: SharedEmulator };

async function start(): Promise<Emulator> {
  await ensurePythonEnv();
  const emulator = await startEmulator();
  emulator.onExit((exit) => {
    if (!exit.expected) {
      process.stderr.write(
        `\n[test setup] the AWS emulator (pid ${emulator.pid}) died during the run: ${
          exit.signal ?? `exit code ${String(exit.code)}`
        }. Its last output:\n${exit.stderrTail}\n`,
      );
    }
  });
  if (process.env.PHOENIX_LOCAL_LOG_LEVEL === 'debug') {
    process.stderr.write(`[test setup] emulator on ${emulator.endpoint}, up in ${emulator.startupMs} ms\n`);
  }
  return emulator;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (holder[KEY] ??= { emulator: start(), users: 0 });
  shared.users += 1;
  let emulator: Emulator;
  try {
    emulator = await shared.emulator;
  } catch (error) {
    shared.users -= 1;
    if (shared.users === 0) delete holder[KEY];
    throw error;
  }
  project.provide('emulatorEndpoint', emulator.endpoint);
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    delete holder[KEY];
    await emulator.stop();
  };
}
