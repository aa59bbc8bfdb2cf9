/**
 * `phoenix local [--demo] [--port <n>]`: start the embedded local cloud, print `PHOENIX_ENDPOINT=<url>`
 * on stdout when ready (with `--json`: the endpoint and the environment the commands need), then
 * the export line with every ARN the commands need on stderr; run until SIGINT/SIGTERM, then stop
 * everything and exit 0. A crash of the emulator ends the process with status 1 and the
 * emulator's last words.
 */
import { Env } from '../lambdas/domain/contract';
import { runDemo } from './demo';
import { createLogger, describeError } from './log';
import { type LocalRuntime, startLocalRuntime } from './runtime';

export interface LocalCommandOptions {
  readonly demo: boolean;
  readonly timeScale: number;
  readonly region: string;
  /** A stable endpoint: the emulator on this port, Step Functions on the next (default: free ports). */
  readonly port?: number;
  /** Print the environment as one JSON document on stdout when ready (instead of PHOENIX_ENDPOINT=…). */
  readonly json?: boolean;
}

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
  };
}

function howToDrive(runtime: LocalRuntime, fleet: string): string {
  const bus = runtime.resources.eventBusName ?? 'phoenix';
  const exports = Object.entries(localEnvironment(runtime)).map(([k, v]) => `${k}=${v}`);
  return [
    '',
    'Phoenix is running against the local emulator. Drive it with the AWS CLI (any dummy credentials) and the phoenix CLI:',
    `  export ${exports.join(' ')}`,
    '  aws autoscaling describe-auto-scaling-groups --query "AutoScalingGroups[].[AutoScalingGroupName,DesiredCapacity]"',
    '  # publish a new image into channel "demo": register it, tag it, announce it',
    '  IMG=$(aws ec2 register-image --name my-image --architecture x86_64 --root-device-name /dev/xvda --query ImageId --output text)',
    '  aws ec2 create-tags --resources $IMG --tags Key=phoenix:channel,Value=demo',
    `  aws events put-events --entries '[{"Source":"phoenix.command","DetailType":"PublishImage","EventBusName":"${bus}","Detail":"{\\"imageId\\":\\"'$IMG'\\"}"}]'`,
    '  node bin/phoenix.js status             # fleets: desired image, instances per image, active rollout (--json for scripts)',
    `  node bin/phoenix.js history ${fleet}       # the fleet's rollouts and replacements, newest first`,
    '  node bin/phoenix.js describe <execution>   # one execution: its steps with times, the failing step',
    `  node bin/phoenix.js reconcile --dry-run    # what the reconcile sweep would replace`,
    `  aws stepfunctions list-executions --endpoint-url ${runtime.stepFunctionsEndpoint} --state-machine-arn ${runtime.resources.stateMachineArn ?? '<arn>'}`,
    `  aws dynamodb scan --table-name ${runtime.resources.tableName ?? '<table>'}   # fleet records: desired image, history`,
    'Press Ctrl-C to stop.',
  ].join('\n');
}

export async function runLocal(options: LocalCommandOptions): Promise<void> {
  process.env['AWS_REGION'] = options.region;
  const log = createLogger();
  const runtime = await startLocalRuntime({
    region: options.region,
    timeScale: options.timeScale,
    log,
    ...(options.port !== undefined ? { port: options.port } : {}),
  });

  let stopping = false;
  const stop = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info(`${why}: stopping`);
    try {
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
  say(`phoenix local: ready in ${(runtime.readyMs / 1000).toFixed(1)} s (time scale ${options.timeScale})`);

  if (options.demo) {
    try {
      await runDemo(
        {
          endpoint: runtime.endpoint,
          region: runtime.region,
          eventBusName: runtime.resources.eventBusName ?? 'phoenix',
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
