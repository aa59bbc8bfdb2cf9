/**
 * Test helpers for files that use the run's emulator (started by test/setup/global-emulator.ts).
 *
 *   const emulator = useEmulator();            // at the top of a test file
 *   new EC2Client(emulator.clientConfig());    // or rely on AWS_ENDPOINT_URL, set for the file
 *
 * The emulator is shared by the whole run: `useEmulator()` resets it (forgets every resource)
 * before the file's tests, so files do not see each other's resources. Files run one at a time.
 */
import { afterAll, beforeAll, inject } from 'vitest';
import { resetEmulator } from '../../local/emulator';

export interface EmulatorHandle {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly region: string;
  /** Config for any SDK v3 client: endpoint, region, dummy credentials. */
  clientConfig(): {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  /** Forget every resource now. */
  reset(): Promise<void>;
}

export function useEmulator(options: { resetBeforeAll?: boolean } = {}): EmulatorHandle {
  const endpoint = inject('emulatorEndpoint');
  if (typeof endpoint !== 'string' || endpoint === '') {
    throw new Error(
      'No emulator endpoint: is test/setup/global-emulator.ts the globalSetup of vitest.config.ts?',
    );
  }
  const region = process.env.AWS_REGION ?? 'us-east-1';
  let previousEndpoint: string | undefined;
  beforeAll(async () => {
    previousEndpoint = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = endpoint;
    if (options.resetBeforeAll ?? true) await resetEmulator(endpoint);
  });
  afterAll(() => {
    if (previousEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL;
    else process.env.AWS_ENDPOINT_URL = previousEndpoint;
  });
  return {
    endpoint,
    region,
    clientConfig: () => ({
      endpoint,
      region,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    }),
    reset: () => resetEmulator(endpoint),
  };
}
