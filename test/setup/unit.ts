/**
 * vitest setupFiles of the unit tier: it runs without the Python environment and without the
 * emulator. A test of this tier that tries to create the one or start the other (or asks for the
 * emulator's endpoint) fails at once, saying it belongs to an emulator tier (vitest.config.mts).
 */
import { vi } from 'vitest';

const refuse = (what: string) => async (): Promise<never> => {
  throw new Error(
    `${what} in the unit tier: this test needs the emulator or the Python environment; move it to test/integration or test/e2e (vitest.config.mts)`,
  );
};

process.env.PHOENIX_TEST_TIER = 'unit';

vi.mock('../../local/emulator', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../local/emulator')>()),
  startEmulator: refuse('startEmulator()'),
  resetEmulator: refuse('resetEmulator()'),
}));

vi.mock('../../local/python-env', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../local/python-env')>()),
  ensurePythonEnv: refuse('ensurePythonEnv()'),
}));
