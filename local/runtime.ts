/**
 * The embedded local runtime: the whole control plane on loopback, with no AWS account.
 *
 *   ensure .venv → start the emulator (moto) → synthesize + resolve the CDK template → start the
 *   local Step Functions service → set the handlers' environment and load them → create tables,
 *   buses, queues and rules in the emulator → start the rule router.
 *
 * Everything the handlers do goes through their real SDK clients to the emulator
 * (`AWS_ENDPOINT_URL`) or the local Step Functions service (`AWS_ENDPOINT_URL_SFN`).
 */
import './polyfills';
import { configureRealism, startEmulator, type Emulator, type RealismConfig } from './emulator';
import type { FaultConfig } from './faults/config';
import { startApiProxy } from './faults/api-proxy';
import { FaultInjector, type Faults } from './faults/injector';
import { createLambdaHost, type LambdaHost } from './lambda-host';
import { createLogger, describeError, type LocalLogger } from './log';
import { provision, type RuleQueue } from './provision';
import { ensurePythonEnv } from './python-env';
import { startRouter, type Router } from './router';
import { LocalStepFunctions } from './stepfunctions';
import { stepFunctionsBuckets } from './stepfunctions/throttling';
import { resolveTemplate, synthesizeControlPlane, type CfnTemplate, type LocalModel } from './template';
import type { PhoenixStackProps } from '../lib/phoenix-stack';

export interface LocalRuntimeOptions {
  /** Default: `$AWS_REGION` or us-east-1. */
  readonly region?: string;
  /** Multiplies waits, retry intervals and schedule rates. Default 0.02; 1 = real time. */
  readonly timeScale?: number;
  /** Use this running emulator (tests) instead of starting one; it is not stopped by `stop()`. */
  readonly emulatorEndpoint?: string;
  /** Use this template instead of synthesizing `PhoenixStack`. */
  readonly template?: CfnTemplate;
  /** Props for the synthesized `PhoenixStack`. */
  readonly stackProps?: PhoenixStackProps;
  /** Where handler modules live. Default `<root>/lambdas`. */
  readonly handlersDir?: string;
  /**
   * The emulator's realism layer (boot time, broken images, API limits…; local/realism). Its
   * `timeScale` defaults to the runtime's. Default: left as the emulator has it (all off).
   */
  readonly realism?: RealismConfig;
  /** Fire `rate(...)` schedules. Default true. */
  readonly fireSchedules?: boolean;
  /**
   * A stable endpoint (`phoenix local --port`): the emulator on this loopback port, Step Functions
   * on the next one. Default: free ports.
   */
  readonly port?: number;
  /**
   * Seeded fault injection (docs/local-runtime.md, "Faults"): API faults on the handlers' AWS
   * calls (through a proxy in front of the emulator and of Step Functions), Lambda crashes and
   * timeouts, event duplicates, delays and losses. Default: none.
   */
  readonly faults?: FaultConfig;
  readonly log?: LocalLogger;
}

export interface LocalRuntimeResources {
  /** The custom event bus (the Phoenix bus), if the template has one. */
  readonly eventBusName?: string;
  readonly eventBusArn?: string;
  /** The first table of the template. */
  readonly tableName?: string;
  /** The first state machine of the template (the Rollout workflow). */
  readonly stateMachineArn?: string;
  /** Every state machine, by logical id. */
  readonly stateMachines: Readonly<Record<string, { name: string; arn: string }>>;
  /** Every function, by handler name. */
  readonly functions: Readonly<Record<string, { name: string; arn: string; logicalId: string }>>;
  /** Every queue of the template (the dead-letter queues), by logical id. */
  readonly queues: Readonly<Record<string, { name: string; url: string; arn: string }>>;
  /** The router queues, one per routed rule target. */
  readonly ruleQueues: readonly RuleQueue[];
}

export interface LocalRuntime {
  /** The emulator: point the AWS CLI or any SDK here. */
  readonly endpoint: string;
  /** The local Step Functions service. */
  readonly stepFunctionsEndpoint: string;
  readonly region: string;
  readonly account: string;
  readonly timeScale: number;
  /** Milliseconds from the call to ready. */
  readonly readyMs: number;
  readonly model: LocalModel;
  readonly resources: LocalRuntimeResources;
  readonly stepFunctions: LocalStepFunctions;
  readonly router: Router;
  readonly host: LambdaHost;
  /** The emulator this runtime started (undefined when `emulatorEndpoint` was given). */
  readonly emulator: Emulator | undefined;
  /** The injected faults (counts by site and kind, lost events); undefined when faults are off. */
  readonly faults: Faults | undefined;
  /**
   * The endpoints the handlers use: the fault proxies when faults are on, else `endpoint` and
   * `stepFunctionsEndpoint`.
   */
  readonly handlerEndpoints: { readonly emulator: string; readonly stepFunctions: string };
  /** Stop the router, abort running executions, wait for handlers, close the services, restore env. */
  stop(): Promise<void>;
}

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const started = Date.now();
  const log = options.log ?? createLogger();
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const timeScale = options.timeScale ?? 0.02;
  const cleanups: (() => Promise<void> | void)[] = [];
  const proxies: { close(): Promise<void> }[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (error) {
        log.warn('cleanup step failed', { error: describeError(error) });
      }
    }
    cleanups.length = 0;
  };

  try {
    // 1. The emulator.
    let emulator: Emulator | undefined;
    let endpoint: string;
    if (options.emulatorEndpoint !== undefined) {
      endpoint = options.emulatorEndpoint.replace(/\/+$/, '');
    } else {
      await ensurePythonEnv();
      emulator = await startEmulator({ log, ...(options.port !== undefined ? { port: options.port } : {}) });
      const owned = emulator;
      cleanups.push(() => owned.stop());
      endpoint = emulator.endpoint;
      emulator.onExit((exit) => {
        if (!exit.expected) {
          log.error(
            `the AWS emulator exited unexpectedly (${exit.signal ?? `exit code ${String(exit.code)}`}); the local runtime cannot work without it. Its last output:\n${exit.stderrTail}`,
          );
        }
      });
      log.debug('emulator ready', { endpoint, startupMs: emulator.startupMs });
    }

    if (options.realism !== undefined) {
      await configureRealism(endpoint, { timeScale, ...options.realism });
    }

    // 2. The template.
    const synthStarted = Date.now();
    const template =
      options.template ?? synthesizeControlPlane({ stackProps: options.stackProps ?? {} }).template;
    const model = resolveTemplate(template, { region, endpoint });
    log.debug('template resolved', { ms: Date.now() - synthStarted });

    // 3. Step Functions (tasks call the host, created next).
    const hostRef: { current?: LambdaHost } = {};
    // The realism layer's API limits cover Step Functions' too (its own buckets, at its endpoint).
    const sfnBuckets = stepFunctionsBuckets(options.realism?.throttling);
    const stepFunctions = await LocalStepFunctions.start({
      ...(options.port !== undefined ? { port: options.port + 1 } : {}),
      ...(sfnBuckets !== undefined ? { buckets: sfnBuckets } : {}),
      region,
      account: model.account,
      timeScale,
      log,
      invoker: {
        resolveFunction: (nameOrArn) => model.findFunction(nameOrArn),
        invoke: (nameOrArn, payload) => {
          if (hostRef.current === undefined) throw new Error('The lambda host is not ready');
          return hostRef.current.invoke(nameOrArn, payload);
        },
      },
    });
    cleanups.push(() => stepFunctions.close());
    for (const machine of model.stateMachines) {
      stepFunctions.registerStateMachine({
        name: machine.name,
        arn: machine.arn,
        definition: machine.definitionString,
        roleArn: machine.roleArn,
        type: machine.type,
      });
    }

    // 4. The faults, if any: the handlers reach the emulator and Step Functions through proxies.
    const faults =
      options.faults !== undefined ? new FaultInjector(options.faults, { timeScale }) : undefined;
    const handlerEndpoints = { emulator: endpoint, stepFunctions: stepFunctions.endpoint };
    if (faults !== undefined) {
      const emulatorProxy = await startApiProxy({ upstream: endpoint, injector: faults });
      cleanups.push(() => emulatorProxy.close());
      const sfnProxy = await startApiProxy({
        upstream: stepFunctions.endpoint,
        injector: faults,
        defaultService: 'states',
      });
      cleanups.push(() => sfnProxy.close());
      handlerEndpoints.emulator = emulatorProxy.endpoint;
      handlerEndpoints.stepFunctions = sfnProxy.endpoint;
      proxies.push(emulatorProxy, sfnProxy);
      log.info('fault injection on', { ...faults.config });
    }

    // 5. The handlers, with their environment.
    const host = await createLambdaHost({
      model,
      emulatorEndpoint: handlerEndpoints.emulator,
      stepFunctionsEndpoint: handlerEndpoints.stepFunctions,
      ...(options.handlersDir !== undefined ? { handlersDir: options.handlersDir } : {}),
      timeScale,
      ...(faults !== undefined
        ? { faults: { decide: (handler: string) => faults.lambdaFault(handler), timeScale } }
        : {}),
      log,
    });
    hostRef.current = host;
    const loadedHost = host;
    cleanups.push(() => loadedHost.restoreEnvironment());
    cleanups.push(async () => {
      await loadedHost.idle(10_000);
    });

    // 6. The resources, in the emulator.
    const provisioned = await provision(model, { endpoint, region, log });
    log.debug('resources provisioned', { ms: provisioned.durationMs });

    // 7. The router.
    const router = startRouter({
      endpoint,
      region,
      model,
      ruleQueues: provisioned.ruleQueues,
      invoker: host,
      stepFunctions,
      timeScale,
      fireSchedules: options.fireSchedules ?? true,
      ...(faults !== undefined ? { faults } : {}),
      log,
    });
    cleanups.push(() => router.stop());

    const bus = model.eventBuses[0];
    const resources: LocalRuntimeResources = {
      ...(bus !== undefined ? { eventBusName: bus.name, eventBusArn: bus.arn } : {}),
      ...(model.tables[0] !== undefined ? { tableName: model.tables[0].name } : {}),
      ...(model.stateMachines[0] !== undefined ? { stateMachineArn: model.stateMachines[0].arn } : {}),
      stateMachines: Object.fromEntries(
        model.stateMachines.map((m) => [m.logicalId, { name: m.name, arn: m.arn }]),
      ),
      functions: Object.fromEntries(
        model.functions.map((f) => [f.handler, { name: f.name, arn: f.arn, logicalId: f.logicalId }]),
      ),
      queues: Object.fromEntries(
        model.queues.map((q) => [q.logicalId, { name: q.name, url: q.url, arn: q.arn }]),
      ),
      ruleQueues: provisioned.ruleQueues,
    };
    const readyMs = Date.now() - started;
    log.info('local runtime ready', {
      endpoint,
      stepFunctionsEndpoint: stepFunctions.endpoint,
      readyMs,
      rules: model.rules.length,
      functions: model.functions.length,
      stateMachines: model.stateMachines.length,
    });

    let stopping: Promise<void> | undefined;
    return {
      endpoint,
      stepFunctionsEndpoint: stepFunctions.endpoint,
      region,
      account: model.account,
      timeScale,
      readyMs,
      model,
      resources,
      stepFunctions,
      router,
      host,
      emulator,
      faults,
      handlerEndpoints,
      stop() {
        stopping ??= (async () => {
          cleanups.length = 0;
          const steps: [string, () => Promise<unknown> | void][] = [
            ['stop the router', () => router.stop()],
            ['abort executions and close Step Functions', () => stepFunctions.close()],
            ['wait for running handlers', () => loadedHost.idle(10_000)],
            ['restore the environment', () => loadedHost.restoreEnvironment()],
            ['close the fault proxies', () => Promise.all(proxies.map((proxy) => proxy.close()))],
            ['stop the emulator', () => emulator?.stop()],
          ];
          for (const [what, step] of steps) {
            try {
              await step();
            } catch (error) {
              log.warn(`stopping the local runtime: could not ${what}`, { error: describeError(error) });
            }
          }
          log.debug('local runtime stopped');
        })();
        return stopping;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
