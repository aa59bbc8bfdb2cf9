/**
 * `phoenix local [--demo] [--port <n>]`: start the embedded local cloud, print `PHOENIX_ENDPOINT=<url>`
 * on stdout when ready (with `--json`: the endpoint and the environment the commands need), then
 * the export line with every ARN the commands need on stderr; run until SIGINT/SIGTERM, then stop
 * everything and exit 0. A crash of the emulator ends the process with status 1 and the
 * emulator's last words.
 */
import { OUTCOME_LOG_GROUP_ENV, useColour } from '../cli/events';
import { Env } from '../lambdas/domain/contract';
import { outcomeLogGroupName } from '../lib/capabilities/outcome-archive';
import { runDemo } from './demo';
import type { RealismConfig } from './emulator';
import { faultsFromRate, type FaultConfig } from './faults/config';
import { createLogger, describeError } from './log';
import { printOutcomes } from './outcomes';
import { type LocalRuntime, startLocalRuntime } from './runtime';
import { startWebView, type WebView } from './web/view';

export interface LocalCommandOptions {
  readonly demo: boolean;
  readonly timeScale: number;
  readonly region: string;
  /** Simulated seconds from launch to InService (the realism layer); 0: at once. */
  readonly bootSeconds?: number;
  /** AWS's API limits (token buckets per API) in the emulator. */
  readonly apiLimits?: boolean;
  /** `--faults <rate>`: API, Lambda, duplicate and delay faults at the rate, loss at rate ÷ 10. */
  readonly faults?: number;
  /** `--event-loss <rate>`: overrides the loss rate. */
  readonly eventLoss?: number;
  /** `--seed <n>`: the faults' seed (default DEFAULT_FAULT_SEED). */
  readonly seed?: number;
  /** A stable endpoint: the emulator on this port, Step Functions on the next (default: free ports). */
  readonly port?: number;
  /** Print the environment as one JSON document on stdout when ready (instead of PHOENIX_ENDPOINT=…). */
  readonly json?: boolean;
}

/** The realism options of `phoenix local` (docs/local-runtime.md, "Realism"). */
export function localRealism(options: LocalCommandOptions): RealismConfig {
  const bootSeconds = options.bootSeconds ?? DEFAULT_BOOT_SECONDS;
  return { bootSeconds, targetHealthChecks: bootSeconds > 0, throttling: options.apiLimits ?? false };
}

/** The fault options of `phoenix local` (docs/local-runtime.md, "Faults"); undefined: off. */
export function localFaults(options: LocalCommandOptions): FaultConfig | undefined {
  return faultsFromRate({
    ...(options.faults !== undefined ? { rate: options.faults } : {}),
    ...(options.eventLoss !== undefined ? { eventLoss: options.eventLoss } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
}

/** `phoenix local --boot-seconds` default: a mild 30 simulated seconds. */
export const DEFAULT_BOOT_SECONDS = 30;

const say = (line: string) => void process.stderr.write(`${line}\n`);

/** The state machine of the template whose logical id names `what` (Rollout, Replace, Drain). */
function stateMachineArn(runtime: LocalRuntime, what: string): string | undefined {
  const found = Object.entries(runtime.resources.stateMachines).find(([id]) =>
    id.includes(`${what}StateMachine`),
  );
  return found?.[1].arn;
}

/** The environment every `phoenix` command (and the AWS CLI) needs to reach this runtime. */
export function localEnvironment(runtime: LocalRuntime): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: runtime.endpoint,
    AWS_ENDPOINT_URL_SFN: runtime.stepFunctionsEndpoint,
    AWS_DEFAULT_REGION: runtime.region,
    AWS_REGION: runtime.region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    [Env.tableName]: runtime.resources.tableName ?? '<table>',
    [Env.eventBusName]: runtime.resources.eventBusName ?? 'phoenix',
    [Env.rolloutStateMachineArn]:
      stateMachineArn(runtime, 'Rollout') ?? runtime.resources.stateMachineArn ?? '<arn>',
    [Env.replaceStateMachineArn]: stateMachineArn(runtime, 'Replace') ?? '<arn>',
    [Env.drainStateMachineArn]: stateMachineArn(runtime, 'Drain') ?? '<arn>',
    [OUTCOME_LOG_GROUP_ENV]: outcomeLogGroupName(runtime.resources.eventBusName ?? 'phoenix'),
  };
}

function howToDrive(runtime: LocalRuntime, fleet: string): string {
  const exports = Object.entries(localEnvironment(runtime)).map(([k, v]) => `${k}=${v}`);
  return [
    '',
    'Phoenix is running against the local emulator. Drive it with the AWS CLI (any dummy credentials) and the phoenix CLI:',
    `  export ${exports.join(' ')}`,
    '  aws autoscaling describe-auto-scaling-groups --query "AutoScalingGroups[].[AutoScalingGroupName,DesiredCapacity]"',
    '  # publish a new image into channel "demo": register it, tag it, announce it',
    '  IMG=$(aws ec2 register-image --name my-image --architecture x86_64 --root-device-name /dev/xvda --query ImageId --output text)',
    '  aws ec2 create-tags --resources $IMG --tags Key=phoenix:channel,Value=demo',
    '  node bin/phoenix.js publish $IMG --wait   # the PublishImage command; follows the rollouts it starts (exit code: docs/cli.md)',
    '  node bin/phoenix.js status demo --watch   # a live tree of the fleet and its rollout',
    '  node bin/phoenix.js status             # fleets: desired image, instances per image, active rollout (--json for scripts)',
    '  node bin/phoenix.js events --follow    # every outcome Phoenix decides (also printed here as it happens)',
    `  node bin/phoenix.js history ${fleet}       # the fleet's rollouts and replacements, newest first`,
    '  node bin/phoenix.js describe <execution>   # one execution: its steps with times, the failing step',
    `  node bin/phoenix.js report ${fleet} -o report.html   # an HTML timeline: instances × time, batches, gates, rollbacks`,
    `  node bin/phoenix.js reconcile --dry-run    # what the reconcile sweep would replace`,
    `  aws stepfunctions list-executions --endpoint-url ${runtime.stepFunctionsEndpoint} --state-machine-arn ${runtime.resources.stateMachineArn ?? '<arn>'}`,
    `  aws dynamodb scan --table-name ${runtime.resources.tableName ?? '<table>'}   # fleet records: desired image, history`,
    'Press Ctrl-C to stop.',
  ].join('\n');
}

export async function runLocal(options: LocalCommandOptions): Promise<void> {
  process.env['AWS_REGION'] = options.region;
  const log = createLogger();
  const faults = localFaults(options);
  if (faults !== undefined) {
    say(
      `phoenix local: faults on, seed ${faults.seed} (replay with --seed ${faults.seed}): API ${faults.api}, ` +
        `Lambda ${faults.lambda}, event duplicates ${faults.eventDuplicate}, delays ${faults.eventDelay}, loss ${faults.eventLoss}`,
    );
  }
  const runtime = await startLocalRuntime({
    region: options.region,
    timeScale: options.timeScale,
    realism: localRealism(options),
    ...(faults !== undefined ? { faults } : {}),
    log,
    ...(options.port !== undefined ? { port: options.port } : {}),
  });

  const web: WebView | undefined = await startWebView(runtime).catch((error: unknown) => {
    log.warn(`the web view did not start: ${describeError(error)}`);
    return undefined;
  });

  let stopping = false;
  const printer: { outcomes?: { stop(): Promise<void> } } = {};
  const stop = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info(`${why}: stopping`);
    try {
      await printer.outcomes?.stop();
      await web?.stop();
      await runtime.stop();
    } catch (error) {
      log.error(`stopping failed: ${describeError(error)}`);
      code = code || 1;
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  runtime.emulator?.onExit((exit) => {
    if (exit.expected) return;
    log.error(
      `the AWS emulator stopped unexpectedly (exit code ${String(exit.code)}, signal ${String(exit.signal)}); its last output:\n${exit.stderrTail}`,
    );
    void stop('emulator crashed', 1);
  });

  process.stdout.write(
    options.json === true
      ? `${JSON.stringify({ endpoint: runtime.endpoint, environment: localEnvironment(runtime) })}\n`
      : `PHOENIX_ENDPOINT=${runtime.endpoint}\n`,
  );
  if (web !== undefined) process.stdout.write(`PHOENIX_WEB_URL=${web.url}\n`);
  const realism = localRealism(options);
  say(
    `phoenix local: ready in ${(runtime.readyMs / 1000).toFixed(1)} s (time scale ${options.timeScale}, ` +
      `boot ${String(realism.bootSeconds)} s, API limits ${realism.throttling === true ? 'on' : 'off'})`,
  );

  // Every outcome, as it happens: followed from the outcome archive, as `phoenix events --follow` does.
  printer.outcomes = printOutcomes({
    endpoint: runtime.endpoint,
    region: runtime.region,
    logGroupName: outcomeLogGroupName(runtime.resources.eventBusName ?? 'phoenix'),
    out: say,
    colour: useColour(process.stderr),
  });

  if (options.demo) {
    try {
      await runDemo(
        {
          endpoint: runtime.endpoint,
          region: runtime.region,
          eventBusName: runtime.resources.eventBusName ?? 'phoenix',
          timeScale: options.timeScale,
          onExecutionEnd: (listener) => runtime.stepFunctions.onExecutionEnd(listener),
        },
        say,
      );
    } catch (error) {
      log.error(`the demo failed: ${describeError(error)}`);
    }
  }
  say(howToDrive(runtime, options.demo ? 'demo' : '<fleet>'));
  // Run until a signal arrives.
  await new Promise<never>(() => undefined);
}
