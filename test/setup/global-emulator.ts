/**
 * vitest globalSetup: one AWS emulator (moto server) for the whole test run.
 *
 * Ensures the project's .venv (installs moto on the first run), starts the emulator on a free
 * loopback port, hands its endpoint to the test files (`inject('emulatorEndpoint')`, see
 * test/support/emulator.ts) and stops it when the run ends. An emulator that dies during the run
 * is reported on stderr with its exit code and last output.
 */
import type { TestProject } from 'vitest/node';
import { startEmulator } from '../../local/emulator';
import { ensurePythonEnv } from '../../local/python-env';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the run's emulator. */
    emulatorEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
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
  project.provide('emulatorEndpoint', emulator.endpoint);
  return async () => {
    await emulator.stop();
  };
}
