/**
 * The local runtime for an end-to-end test file: the run's emulator (reset first), the whole
 * control plane on it, a World to build fleets and images with, and optionally a listener on the
 * Phoenix bus's outcome events. Everything is started before the file's tests and stopped after.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import type { IntakeResult } from '../../lambdas/steps/intake';
import { resetEmulator } from '../../local/emulator';
import { silentLogger } from '../../local/log';
import { type OutcomeListener, listenToOutcomes } from '../../local/outcomes';
import { checkingSchemas } from './outcome-schemas';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import type { ExecutionRecord } from '../../local/stepfunctions';
import { World } from '../../local/world';
import type { PhoenixStackProps } from '../../lib/phoenix-stack';
import { entryOf } from './replace-events';

export const REGION = 'us-east-1';

export interface LocalRuntimeHandle {
  runtime: LocalRuntime;
  world: World;
  /** The outcome listener (only with `outcomes: true`). */
  outcomes: OutcomeListener;
  endpoint: string;
  /** The Phoenix bus. */
  busName: string;
  /**
   * Put a (derived) sample on the default bus as its AWS source would, wait for the router to
   * deliver it to the intake (matched by its detail), expect the intake to succeed, and return
   * the intake's result.
   */
  readonly deliver: (event: Record<string, any>) => Promise<IntakeResult>;
  /**
   * The next execution (of any workflow) whose input names `fleet` to end; rejects after
   * `timeoutMs` (default 90 s). Call it before what starts the execution.
   */
  readonly executionEnd: (fleet: string, timeoutMs?: number) => Promise<ExecutionRecord>;
  /**
   * The real CLI process (`node bin/phoenix.js …`) pointed at this runtime, run asynchronously (the
   * local Step Functions service answers from this process): its exit code and output.
   */
  readonly phoenix: (args: readonly string[]) => Promise<CliRun>;
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const ROOT = path.resolve(__dirname, '../..');

async function runCli(runtime: LocalRuntime, busName: string, args: readonly string[]): Promise<CliRun> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^(AWS_ENDPOINT_URL|AWS_REGION|AWS_DEFAULT_REGION|PHOENIX_)/.test(key),
    ),
  );
  const env = {
    ...base,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL: runtime.endpoint,
    AWS_ENDPOINT_URL_SFN: runtime.stepFunctionsEndpoint,
    AWS_DEFAULT_REGION: REGION,
    PHOENIX_TABLE_NAME: runtime.resources.tableName!,
    PHOENIX_ROLLOUT_STATE_MACHINE_ARN: runtime.resources.stateMachineArn!,
    PHOENIX_EVENT_BUS_NAME: busName,
  };
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['bin/phoenix.js', ...args], {
      cwd: ROOT,
      env,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export function useLocalRuntime(
  options: {
    /** Default 0.01. */
    timeScale?: number;
    /**
     * Fire scheduled rules (the reconcile sweep). Default false: only what the test causes
     * happens (test/e2e/reconcile.test.ts turns it on).
     */
    fireSchedules?: boolean;
    /** Listen to the Phoenix bus's outcome events. Default true. */
    outcomes?: boolean;
    /** Props of the synthesized stack (e.g. `{ controlPlane: { maxConcurrentRollouts: 2 } }`). */
    stackProps?: PhoenixStackProps;
  } = {},
): LocalRuntimeHandle {
  const handle = {
    phoenix: (args: readonly string[]) => runCli(handle.runtime, handle.busName, args),
    executionEnd: (fleet: string, timeoutMs = 90_000) =>
      new Promise<ExecutionRecord>((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(new Error(`no execution of ${fleet} ended within ${timeoutMs} ms`));
        }, timeoutMs);
        const off = handle.runtime.stepFunctions.onExecutionEnd((record) => {
          if ((JSON.parse(record.input) as { fleet?: string }).fleet === fleet) {
            clearTimeout(timer);
            off();
            resolve(record);
          }
        });
      }),
    deliver: async (event: Record<string, any>) => {
      const marker = JSON.stringify(event['detail']);
      const delivered = handle.runtime.router.waitForDelivery(
        (d) => JSON.stringify((d.payload as { detail?: unknown }).detail) === marker,
      );
      await handle.world.putRaw(entryOf(event));
      const delivery = await delivered;
      expect(delivery.outcome).toBe('succeeded');
      return delivery.result as IntakeResult;
    },
  } as LocalRuntimeHandle;
  beforeAll(async () => {
    handle.endpoint = inject('emulatorEndpoint');
    await resetEmulator(handle.endpoint);
    handle.runtime = await startLocalRuntime({
      emulatorEndpoint: handle.endpoint,
      region: REGION,
      timeScale: options.timeScale ?? 0.01,
      fireSchedules: options.fireSchedules ?? false,
      log: silentLogger,
      ...(options.stackProps !== undefined ? { stackProps: options.stackProps } : {}),
    });
    handle.world = new World({ endpoint: handle.endpoint, region: REGION });
    handle.busName = handle.runtime.resources.eventBusName!;
    if (options.outcomes ?? true) {
      // Each outcome received is checked against its JSON Schema (./outcome-schemas.ts).
      handle.outcomes = checkingSchemas(
        await listenToOutcomes({
          endpoint: handle.endpoint,
          region: REGION,
          eventBusName: handle.busName,
        }),
      );
    }
  });
  afterAll(async () => {
    await handle.outcomes?.stop();
    await handle.runtime?.stop();
  });
  return handle;
}
