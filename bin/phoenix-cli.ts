/**
 * The `phoenix` command line.
 *
 *   phoenix local [--demo] [--time-scale <n>] [--region <r>] [--port <n>] [--json]   the embedded local cloud
 *   phoenix events [--follow] [--fleet F] [--since T] [--json] every outcome Phoenix decided (the outcome archive)
 *   phoenix events classify FILE...                            what Phoenix makes of each event
 *   phoenix setup                                              install the Python side (.venv, .venv/checkov)
 *   phoenix status [<fleet>] [--json]                          fleets: desired image, instances, rollout
 *   phoenix status <fleet> --watch [--interval s] [--until-done] a live tree of the fleet and its rollout
 *   phoenix publish <ami> [--channel C] [--wait] [--timeout s]  PublishImage on the bus; --wait follows the rollouts
 *   phoenix history <fleet> [--json]                           a fleet's rollouts and replacements, newest first
 *   phoenix describe <execution> [--json]                      an execution's steps, times, failing step, outcome
 *   phoenix report <fleet|execution> [-o report.html] [--json] an HTML timeline: instances × time, batches, gates
 *   phoenix pause <fleet> [--reason <text>] [--json]           no automation starts for the fleet
 *   phoenix resume <fleet> [--json]                            clear a pause, close the circuit breaker, reconcile
 *   phoenix rollback <fleet> [--to <image>] [--wait] [--json]  roll back to an image of its history, pin it
 *   phoenix unpin <fleet> [--json]                             release a rollback's pin
 *   phoenix release <image> [--reason <text>] [--json]         clear an image's quarantine
 *   phoenix reconcile [<fleet>] [--dry-run]                     the reconcile sweep, now (prints JSON)
 *   phoenix chaos [--at <ISO time>] [--dry-run] [--yes]         one chaos period, now (or as if at a time)
 *   phoenix channels [--json]                                   the pipeline: channels, images, waiting promotions, quarantine
 *   phoenix approve <channel> <image> [--json]                  approve an image's promotion into a channel
 *   phoenix promote [<channel>] [--dry-run]                     the promotion check, now (prints JSON)
 *   phoenix --version                                          the version (package.json)
 *
 * Exit codes: cli/exit-codes.ts, documented in docs/cli.md.
 */
import { writeFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { TargetOptions } from '../cli/target';
import { ExitCodes } from '../cli/exit-codes';
import { isAmiId } from '../lambdas/domain/ids';

/*
 * Each command loads what it needs when it runs, not when the CLI starts: the SDK clients, the
 * handlers' steps, the local runtime (aws-cdk-lib and the emulator) stay unloaded for
 * `phoenix --help` and for the other commands. `require`, not `import()`: bin/phoenix.js runs
 * this file through tsx's CommonJS hook, which does not serve dynamic `import()` of TypeScript.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const load = {
  chaos: () => require('../cli/chaos') as typeof import('../cli/chaos'),
  approve: () => require('../cli/approve') as typeof import('../cli/approve'),
  channels: () => require('../cli/channels') as typeof import('../cli/channels'),
  describe: () => require('../cli/describe') as typeof import('../cli/describe'),
  history: () => require('../cli/history') as typeof import('../cli/history'),
  pause: () => require('../cli/pause') as typeof import('../cli/pause'),
  release: () => require('../cli/release') as typeof import('../cli/release'),
  publish: () => require('../cli/publish') as typeof import('../cli/publish'),
  watch: () => require('../cli/watch') as typeof import('../cli/watch'),
  exitCodes: () => require('../cli/exit-codes') as typeof import('../cli/exit-codes'),
  reconcile: () => require('../cli/reconcile') as typeof import('../cli/reconcile'),
  resume: () => require('../cli/resume') as typeof import('../cli/resume'),
  rollback: () => require('../cli/rollback') as typeof import('../cli/rollback'),
  status: () => require('../cli/status') as typeof import('../cli/status'),
  report: () => require('../cli/report') as typeof import('../cli/report'),
  target: () => require('../cli/target') as typeof import('../cli/target'),
  classify: () => require('../local/classify') as typeof import('../local/classify'),
  events: () => require('../cli/events') as typeof import('../cli/events'),
  logsApi: () => require('../cli/logs-api') as typeof import('../cli/logs-api'),
  local: () => require('../local/cli-local') as typeof import('../local/cli-local'),
  pythonEnv: () => require('../local/python-env') as typeof import('../local/python-env'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The modules the commands load when they run. */
type Loaders = typeof load;

/** The options of `phoenix events`. */
interface EventsOptions {
  follow: boolean;
  fleet?: string;
  since?: string;
  json: boolean;
  logGroup?: string;
  all: boolean;
  region?: string;
  endpointUrl?: string;
}

function parseTimeScale(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) {
    throw new InvalidArgumentError(`must be a number in (0, 1], got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `phoenix local --boot-seconds`: simulated seconds, 0 or more. */
function parseBootSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`must be a number of seconds, 0 or more, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `phoenix local --faults` / `--event-loss`: a probability. */
function parseProbability(value: string): number {
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) {
    throw new InvalidArgumentError(`must be a probability in [0, 1], got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `phoenix local --seed`: an integer. */
function parseSeed(value: string): number {
  const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`must be an integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError(`must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1024 || n > 65534) {
    throw new InvalidArgumentError(`must be a port in 1024–65534, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Where a reading command looks: see cli/target.ts. */
function withTarget(command: Command): Command {
  return command
    .option('--json', 'print one JSON document', false)
    .option('--table <name>', 'the fleet table (default: $PHOENIX_TABLE_NAME)')
    .option(
      '--state-machine-arn <arn>',
      'the Rollout state machine, to read a running rollout (default: $PHOENIX_ROLLOUT_STATE_MACHINE_ARN)',
    )
    .option('--region <region>', 'default: $AWS_REGION, then $AWS_DEFAULT_REGION')
    .option('--endpoint-url <url>', 'AWS endpoint, e.g. phoenix local (default: $AWS_ENDPOINT_URL)')
    .option(
      '--sfn-endpoint-url <url>',
      'Step Functions endpoint (default: $AWS_ENDPOINT_URL_SFN, then the AWS endpoint)',
    );
}

const print = (text: string) => void process.stdout.write(`${text}\n`);

/*
 * One function per command registers it on the program; each reaches its modules only through
 * `load` (`load.target().applyTarget(options)` points the AWS clients at the target: cli/target.ts).
 */

/** `phoenix local`: the embedded local cloud. */
function registerLocal(program: Command, load: Loaders): void {
  program
    .command('local')
    .description(
      'Run the control plane locally against an embedded AWS emulator (moto server on loopback). ' +
        'Prints PHOENIX_ENDPOINT=<url> when ready and runs until SIGINT/SIGTERM.',
    )
    .option('--demo', 'provision a demo fleet of 4 and roll it onto a new image, live', false)
    .addOption(
      new Option(
        '--time-scale <factor>',
        'how much faster than real time workflow waits run locally (1 = real time; 0.02 = 50× faster)',
      )
        .argParser(parseTimeScale)
        .default(0.02),
    )
    .addOption(
      new Option('--region <region>', 'the region the emulator serves').default(
        process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
      ),
    )
    .addOption(
      new Option(
        '--boot-seconds <seconds>',
        'simulated seconds an instance takes from launch to InService, targets then pass their health checks (0 = at once)',
      )
        .argParser(parseBootSeconds)
        .default(30),
    )
    .option(
      '--api-limits',
      "throttle the emulator's APIs with AWS's token buckets and throttling errors",
      false,
    )
    .addOption(
      new Option(
        '--faults <rate>',
        "inject faults at this rate: the handlers' API calls, Lambda invocations, event duplicates and delays; event loss at rate ÷ 10",
      ).argParser(parseProbability),
    )
    .addOption(
      new Option(
        '--event-loss <rate>',
        'the rate of lost events (default with --faults: rate ÷ 10)',
      ).argParser(parseProbability),
    )
    .addOption(
      new Option(
        '--seed <n>',
        'the seed of the injected faults, printed at start (default: 20260101)',
      ).argParser(parseSeed),
    )
    .addOption(
      new Option(
        '--port <n>',
        'a stable endpoint: the emulator on this loopback port, Step Functions on the next (default: free ports)',
      ).argParser(parsePort),
    )
    .option(
      '--json',
      'print the endpoint and the environment as one JSON document on stdout when ready',
      false,
    )
    .action(
      async (options: {
        demo: boolean;
        timeScale: number;
        region: string;
        bootSeconds: number;
        apiLimits: boolean;
        faults?: number;
        eventLoss?: number;
        seed?: number;
        port?: number;
        json: boolean;
      }) => {
        // Before anything loads lambdas/powertools.ts (the web view and the outcome printer import
        // the CLI's readers, which import the handlers' adapters): its logger and metrics read these
        // once, when built. Handler logs below WARN and EMF metrics stay out of the terminal, as the
        // Lambda host intends (local/lambda-host/environment.ts); outcomes are printed instead.
        process.env['POWERTOOLS_LOG_LEVEL'] ??= 'WARN';
        process.env['POWERTOOLS_METRICS_DISABLED'] ??= 'true';
        await load.local().runLocal(options);
      },
    );
}

/** `phoenix events`: the outcome archive; `phoenix events classify`: what Phoenix makes of each event. */
function registerEvents(program: Command, load: Loaders): void {
  const events = program
    .command('events')
    .description(
      'Print every outcome Phoenix decided, oldest first, one line each (time, fleet, type, image or instance, reason), ' +
        'from the outcome archive log group. `events classify FILE...`: what Phoenix makes of event files.',
    )
    .option('--follow', 'keep printing new outcomes as they are archived (Ctrl-C to stop)', false)
    .option('--fleet <fleet>', 'only the outcomes of this fleet')
    .option('--since <time>', 'only outcomes since an ISO 8601 time or a duration ago (10m, 2h, 1d)')
    .option('--json', 'one JSON object per line', false)
    .option('--log-group <name>', 'the outcome archive (default: $PHOENIX_OUTCOME_LOG_GROUP)')
    .option('--all', 'also the reconcile sweeps that found nothing to do (left out by default)', false)
    .option('--region <region>', 'default: $AWS_REGION, then $AWS_DEFAULT_REGION')
    .option('--endpoint-url <url>', 'AWS endpoint, e.g. phoenix local (default: $AWS_ENDPOINT_URL)')
    .action(async (options: EventsOptions) => {
      const { runEvents, useColour } = load.events();
      const region = options.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'];
      if (region === undefined || region === '') {
        throw new InvalidArgumentError('no region: pass --region <region> or set AWS_REGION');
      }
      const reader = load.logsApi().logsApi({
        region,
        ...(options.endpointUrl !== undefined ? { endpoint: options.endpointUrl } : {}),
      });
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      await runEvents(reader, options, print, { colour: useColour(), signal: stop.signal });
    });
  events
    .command('classify')
    .description(
      'Print what Phoenix makes of each event file (one EventBridge event per file): one JSON object per line. ' +
        'Exits 2 if a file is not JSON or not an event (the others are still classified).',
    )
    .argument('<files...>', 'files, each holding one EventBridge event')
    .action((files: string[]) => {
      process.exitCode = load.classify().classifyFiles(files);
    });
}

/** `phoenix status`: the managed fleets; `--watch`: a live tree of one. */
function registerStatus(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('status')
      .description(
        'Show each managed fleet (or the one named): its group, channel, desired image (from the fleet record), ' +
          'instances per image (from EC2), capacity, and the active rollout with its execution status and step. ' +
          'During a rollout the image being rolled out is named and its instances count as new. ' +
          '--watch: a live tree of the fleet (strategy, images, batch N/M, gate and countdown, alarms, each instance).',
      )
      .argument('[fleet]', 'only this fleet')
      .option(
        '--watch',
        'redraw a live tree of the fleet until interrupted (--json: one JSON document per change)',
        false,
      )
      .addOption(
        new Option('--interval <seconds>', 'with --watch: seconds between reads')
          .argParser(parseLimit)
          .default(2),
      )
      .option(
        '--until-done',
        'with --watch: exit when no rollout is active, with the exit code of its outcome',
        false,
      ),
  ).action(
    async (
      fleet: string | undefined,
      options: TargetOptions & { json: boolean; watch: boolean; interval: number; untilDone: boolean },
    ) => {
      load.target().applyTarget(options);
      if (options.watch) {
        if (fleet === undefined)
          throw new InvalidArgumentError('--watch needs a fleet: phoenix status <fleet> --watch');
        const exit = await load.watch().watchFleet(fleet, {
          json: options.json,
          intervalSeconds: options.interval,
          untilDone: options.untilDone,
        });
        process.exitCode = load.exitCodes().EXIT_CODES[exit].code;
        return;
      }
      const { fleetStatus, renderStatus } = load.status();
      const report = await fleetStatus(fleet !== undefined ? { fleet } : {});
      print(options.json ? JSON.stringify(report, null, 2) : renderStatus(report));
    },
  );
}

/** `phoenix publish`: the PublishImage command on the Phoenix bus; `--wait` follows its rollouts. */
function registerPublish(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('publish')
      .description(
        'Put the PublishImage command on the Phoenix bus (as `aws events put-events` would): the fleets of the ' +
          "image's channel (or --channel) roll onto it. --wait follows their rollouts live and exits with the code of the " +
          'worst outcome: 0 succeeded, 3 rejected, 4 rolled back, 5 failed, 6 timed out, 7 stopped (docs/operator-commands.md).',
      )
      .argument('<ami>', 'the image id')
      .option('--channel <channel>', "the channel (default: the image's phoenix:channel tag)")
      .option(...busOption)
      .option('--wait', 'follow the rollouts started until each ends', false)
      .addOption(
        new Option('--timeout <seconds>', 'with --wait: give up after this long (default 7200)').argParser(
          parseLimit,
        ),
      ),
  ).action(
    async (
      ami: string,
      options: TargetOptions & {
        json: boolean;
        channel?: string;
        eventBusName?: string;
        wait: boolean;
        timeout?: number;
      },
    ) => {
      load.target().applyTarget(options);
      const { publishImage, renderPublish } = load.publish();
      const report = await publishImage(ami, {
        ...(options.channel !== undefined ? { channel: options.channel } : {}),
        ...(options.eventBusName !== undefined ? { eventBusName: options.eventBusName } : {}),
        wait: options.wait,
        ...(options.timeout !== undefined ? { timeoutSeconds: options.timeout } : {}),
        ...(options.wait && !options.json ? { progress: process.stdout } : {}),
      });
      print(options.json ? JSON.stringify(report, null, 2) : renderPublish(report));
      if (report.exit !== undefined) process.exitCode = load.exitCodes().EXIT_CODES[report.exit].code;
    },
  );
}

/** `phoenix history`: a fleet's image history. */
function registerHistory(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('history')
      .description(
        'Show what Phoenix did to a fleet, from its fleet record, newest first: rollouts (a rollback marked as one) with ' +
          'image, outcome, execution, failed step, reason; and replacements with instance, cause, replacement, outcome.',
      )
      .argument('<fleet>', 'the fleet')
      .addOption(new Option('--limit <n>', 'only the newest n entries').argParser(parseLimit)),
  ).action(async (fleet: string, options: TargetOptions & { json: boolean; limit?: number }) => {
    load.target().applyTarget(options);
    const { fleetHistory, renderHistory } = load.history();
    const report = await fleetHistory(fleet, options.limit !== undefined ? { limit: options.limit } : {});
    print(options.json ? JSON.stringify(report, null, 2) : renderHistory(report));
  });
}

/** `phoenix report`: a self-contained HTML timeline of a fleet or an execution (docs/web-view.md). */
function registerReport(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('report')
      .description(
        'Write a self-contained HTML timeline of a fleet (its newest executions) or of one Rollout execution: ' +
          'instances × time coloured by image, batches, gates and rollbacks marked, the fleet history.',
      )
      .argument('<fleet|execution>', 'a fleet, an execution ARN, or a Rollout execution name')
      .option('-o, --output <file>', 'where to write the HTML', 'report.html'),
  ).action(async (subject: string, options: TargetOptions & { json: boolean; output: string }) => {
    load.target().applyTarget(options);
    const { buildReport, renderReport } = load.report();
    const model = await buildReport(
      subject,
      options.stateMachineArn !== undefined ? { stateMachineArn: options.stateMachineArn } : {},
    );
    writeFileSync(options.output, renderReport(model));
    print(
      options.json
        ? JSON.stringify(model, null, 2)
        : `Wrote ${options.output}: fleet ${model.fleet}, ${model.instances.length} instances, ${model.executions.length} executions`,
    );
  });
}

/** `phoenix describe`: one execution's steps. */
function registerDescribe(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('describe')
      .description(
        "Show one workflow execution from Step Functions' history: each step (Task, Wait, Choice …) entered and exited " +
          'with its time, duration and retries; the failing step with its error and cause; the final status and outcome. ' +
          'The execution is an ARN, or a name looked up in the Rollout, Replace and Drain state machines.',
      )
      .argument('<execution>', 'the execution: its ARN, or its name')
      .option(
        '--replace-state-machine-arn <arn>',
        'the Replace state machine, to find a name (default: $PHOENIX_REPLACE_STATE_MACHINE_ARN)',
      )
      .option(
        '--drain-state-machine-arn <arn>',
        'the Drain state machine, to find a name (default: $PHOENIX_DRAIN_STATE_MACHINE_ARN)',
      ),
  ).action(async (execution: string, options: TargetOptions & { json: boolean }) => {
    const target = load.target().applyTarget(options);
    const { describeExecution, renderDescribe } = load.describe();
    const report = await describeExecution(execution, {
      ...(target.stateMachineArn !== undefined ? { stateMachineArn: target.stateMachineArn } : {}),
      ...(target.replaceStateMachineArn !== undefined
        ? { replaceStateMachineArn: target.replaceStateMachineArn }
        : {}),
      ...(target.drainStateMachineArn !== undefined
        ? { drainStateMachineArn: target.drainStateMachineArn }
        : {}),
    });
    print(options.json ? JSON.stringify(report, null, 2) : renderDescribe(report));
  });
}

/** The bus option of the commands that put an outcome. */
const busOption = [
  '--event-bus-name <name>',
  'the Phoenix bus (default: $PHOENIX_EVENT_BUS_NAME, then phoenix)',
] as const;

/** `phoenix pause`: no automation starts for the fleet. */
function registerPause(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('pause')
      .description(
        'Pause a fleet: paused = {at, reason} on its fleet record and FleetPaused on the Phoenix bus. No rollout or ' +
          'replacement starts for it (publications are ignored, the reconcile sweep passes it by) and a running rollout ' +
          'stops at its next safe point, until phoenix resume.',
      )
      .argument('<fleet>', 'the fleet')
      .option('--reason <text>', 'why (recorded and reported)')
      .option(...busOption),
  ).action(
    async (
      fleet: string,
      options: TargetOptions & { json: boolean; reason?: string; eventBusName?: string },
    ) => {
      load.target().applyTarget(options);
      const { pauseFleetCommand, renderPause } = load.pause();
      const report = await pauseFleetCommand(fleet, {
        ...(options.reason !== undefined ? { reason: options.reason } : {}),
        ...(options.eventBusName !== undefined ? { eventBusName: options.eventBusName } : {}),
      });
      print(options.json ? JSON.stringify(report, null, 2) : renderPause(report));
    },
  );
}

/** `phoenix release`: clear an image's quarantine (issue 13 §3). */
function registerRelease(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('release')
      .description(
        'Release a quarantined image: remove its phoenix:quarantined tag (every channel accepts it again), record ' +
          'the release (who: the caller identity, when, why) on the image record, and put ImageReleased on the bus.',
      )
      .argument('<image>', 'the AMI id', (value: string) => {
        if (!isAmiId(value)) {
          throw new InvalidArgumentError(`not an AMI id: ${JSON.stringify(value)}`);
        }
        return value;
      })
      .option('--reason <text>', 'why (recorded and reported)')
      .option(...busOption),
  ).action(
    async (
      image: string,
      options: TargetOptions & { json: boolean; reason?: string; eventBusName?: string },
    ) => {
      load.target().applyTarget(options);
      const { releaseImage, renderRelease } = load.release();
      const report = await releaseImage(image, {
        ...(options.reason !== undefined ? { reason: options.reason } : {}),
        ...(options.eventBusName !== undefined ? { eventBusName: options.eventBusName } : {}),
      });
      print(options.json ? JSON.stringify(report, null, 2) : renderRelease(report));
    },
  );
}

/** `phoenix resume`: clear a pause, close the circuit breaker, reconcile. */
function registerResume(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('resume')
      .description(
        'Resume a fleet: clear its pause (FleetResumed), close its circuit breaker (clear its health flags, ' +
          'FleetCircuitClosed), then run the reconcile sweep of the fleet to catch up what was missed.',
      )
      .argument('<fleet>', 'the fleet')
      .option(...busOption)
      .option(
        '--replace-state-machine-arn <arn>',
        'the Replace state machine, for the reconcile sweep (default: $PHOENIX_REPLACE_STATE_MACHINE_ARN)',
      )
      .option('--no-reconcile', 'do not run the reconcile sweep'),
  ).action(
    async (
      fleet: string,
      options: TargetOptions & {
        json: boolean;
        eventBusName?: string;
        replaceStateMachineArn?: string;
        reconcile: boolean;
      },
    ) => {
      load.target().applyTarget(options);
      const { resumeFleet, renderResume } = load.resume();
      const report = await resumeFleet(fleet, {
        ...(options.eventBusName !== undefined ? { eventBusName: options.eventBusName } : {}),
        ...(options.replaceStateMachineArn !== undefined
          ? { replaceStateMachineArn: options.replaceStateMachineArn }
          : {}),
        reconcile: options.reconcile,
      });
      print(options.json ? JSON.stringify(report, null, 2) : renderResume(report));
      if ('failed' in report.reconcile) {
        process.stderr.write(
          `warning: the reconcile sweep after resume failed: ${report.reconcile.failed}\n`,
        );
      }
    },
  );
}

/** `phoenix rollback`: roll back to an image of its history, pin it. */
function registerRollback(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('rollback')
      .description(
        'Roll a fleet back onto an image it ran before (from its history, never from its channel), through the Rollout ' +
          'workflow; on success the fleet is pinned to it: publications are ignored until an explicit PublishImage or ' +
          'phoenix unpin. Prints the execution started.',
      )
      .argument('<fleet>', 'the fleet')
      .option('--to <image>', 'the image (default: the newest image that succeeded before the desired one)')
      .option(
        '--request-id <id>',
        'names the execution: the same request starts one execution (default: random)',
      )
      .option(
        '--wait',
        'follow the execution live to its end and exit with the code of its outcome (as publish --wait)',
        false,
      )
      .addOption(
        new Option('--wait-timeout <seconds>', 'with --wait: give up after this long').argParser(parseLimit),
      ),
  ).action(
    async (
      fleet: string,
      options: TargetOptions & {
        json: boolean;
        to?: string;
        requestId?: string;
        wait: boolean;
        waitTimeout?: number;
      },
    ) => {
      load.target().applyTarget(options);
      const { rollbackFleet, renderRollback } = load.rollback();
      const report = await rollbackFleet(fleet, {
        ...(options.to !== undefined ? { to: options.to } : {}),
        ...(options.requestId !== undefined ? { requestId: options.requestId } : {}),
        wait: options.wait,
        ...(options.waitTimeout !== undefined ? { waitTimeoutSeconds: options.waitTimeout } : {}),
        ...(options.wait && !options.json ? { progress: process.stdout } : {}),
      });
      print(options.json ? JSON.stringify(report, null, 2) : renderRollback(report));
      if (report.result !== undefined)
        process.exitCode = load.exitCodes().EXIT_CODES[report.result.exit].code;
    },
  );
}

/** `phoenix unpin`: release a rollback's pin. */
function registerUnpin(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('unpin')
      .description(
        'Release the pin a rollback put on a fleet (FleetUnpinned): publications on its channel roll it again.',
      )
      .argument('<fleet>', 'the fleet')
      .option(...busOption),
  ).action(async (fleet: string, options: TargetOptions & { json: boolean; eventBusName?: string }) => {
    load.target().applyTarget(options);
    const { unpinFleetCommand, renderUnpin } = load.pause();
    const report = await unpinFleetCommand(
      fleet,
      options.eventBusName !== undefined ? { eventBusName: options.eventBusName } : {},
    );
    print(options.json ? JSON.stringify(report, null, 2) : renderUnpin(report));
  });
}

/** `phoenix reconcile`: the reconcile sweep, now. */
function registerReconcile(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('reconcile')
      .description(
        'Run the reconcile sweep now: compare each managed fleet (or the one named) with its desired state, start a Replace ' +
          'execution for each instance difference (the names of the event path), reclaim dead slots; prints the result as JSON.',
      )
      .argument('[fleet]', 'only this fleet')
      .option(
        '--replace-state-machine-arn <arn>',
        'the Replace state machine (default: $PHOENIX_REPLACE_STATE_MACHINE_ARN)',
      )
      .option('--event-bus-name <name>', 'the Phoenix bus (default: $PHOENIX_EVENT_BUS_NAME, then phoenix)')
      .option('--dry-run', 'only report the differences: start nothing, change nothing', false),
  ).action(
    async (
      fleet: string | undefined,
      options: TargetOptions & {
        json: boolean;
        replaceStateMachineArn?: string;
        eventBusName?: string;
        dryRun: boolean;
      },
    ) => {
      load.target().applyTarget(options);
      const report = await load.reconcile().reconcileNow({
        ...(fleet !== undefined ? { fleet } : {}),
        ...(options.replaceStateMachineArn !== undefined
          ? { replaceStateMachineArn: options.replaceStateMachineArn }
          : {}),
        ...(options.eventBusName !== undefined ? { eventBusName: options.eventBusName } : {}),
        dryRun: options.dryRun,
      });
      print(JSON.stringify(report, null, 2));
    },
  );
}

const rulesOption = [
  '--rules <json>',
  'the promotion rules as JSON (default: $PHOENIX_PROMOTION_RULES, then the rules the promotion check recorded)',
] as const;

/** `phoenix channels`: the pipeline. */
function registerChannels(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('channels')
      .description(
        'Show the pipeline: each channel with its upstream, its current image, the image waiting for promotion and what it ' +
          'waits for (fleets not yet rolled, time left, approval, window) or why it is blocked, and the quarantined images.',
      )
      .option(...rulesOption),
  ).action(async (options: TargetOptions & { json: boolean; rules?: string }) => {
    load.target().applyTarget(options);
    const { channelsCommand, renderChannels } = load.channels();
    const model = await channelsCommand(options.rules !== undefined ? { rules: options.rules } : {});
    print(options.json ? JSON.stringify(model, null, 2) : renderChannels(model));
  });
}

/** `phoenix approve`: approve an image's promotion into a channel. */
function registerApprove(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('approve')
      .description(
        'Approve the promotion of an image into a channel whose rule asks for an approval: who (your identity ARN) and ' +
          'when are recorded, PromotionApproved is reported; the next promotion check promotes it if the evidence holds.',
      )
      .argument('<channel>', 'the downstream channel')
      .argument('<image>', 'the AMI id')
      .option(...busOption),
  ).action(
    async (
      channel: string,
      image: string,
      options: TargetOptions & { json: boolean; eventBusName?: string },
    ) => {
      load.target().applyTarget(options);
      const { approveCommand, renderApprove } = load.approve();
      const report = await approveCommand(
        channel,
        image,
        options.eventBusName !== undefined ? { eventBusName: options.eventBusName } : {},
      );
      print(options.json ? JSON.stringify(report, null, 2) : renderApprove(report));
    },
  );
}

/** `phoenix promote`: the promotion check, now. */
function registerPromote(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('promote')
      .description(
        'Run the promotion check now (what the scheduled promote function runs): each channel with promoteFrom is checked ' +
          'against the evidence of its upstream fleets and promoted when it holds; prints the result as JSON.',
      )
      .argument('[channel]', 'only this downstream channel')
      .option(...rulesOption)
      .option(...busOption)
      .option('--dry-run', 'only decide: promote nothing, announce nothing', false),
  ).action(
    async (
      channel: string | undefined,
      options: TargetOptions & { json: boolean; rules?: string; eventBusName?: string; dryRun: boolean },
    ) => {
      load.target().applyTarget(options);
      const report = await load.channels().promoteNow({
        ...(channel !== undefined ? { channel } : {}),
        ...(options.rules !== undefined ? { rules: options.rules } : {}),
        ...(options.eventBusName !== undefined ? { eventBusName: options.eventBusName } : {}),
        dryRun: options.dryRun,
      });
      print(JSON.stringify(report, null, 2));
    },
  );
}

/** `phoenix chaos`: one chaos period, now. */
function registerChaos(program: Command, load: Loaders): void {
  withTarget(
    program
      .command('chaos')
      .description(
        'Run one chaos period now (or as if at --at): each fleet tagged phoenix:chaos may lose a random instance ' +
          '(terminated without decrement: Auto Scaling replaces it) when within its chaos hours and safe; prints each decision.',
      )
      .option('--at <time>', 'run the period that holds this ISO-8601 time (default: now)')
      .addOption(
        new Option(
          '--period-seconds <n>',
          'the chaos period (default: $PHOENIX_CHAOS_PERIOD_SECONDS, then 3600)',
        ).argParser(parseLimit),
      )
      .option('--event-bus-name <name>', 'the Phoenix bus (default: $PHOENIX_EVENT_BUS_NAME, then phoenix)')
      .option('--dry-run', 'only decide: terminate nothing, record nothing, put no outcome', false)
      .option('--yes', 'do not ask for confirmation (needed without a terminal, unless --dry-run)', false),
  ).action(
    async (
      options: TargetOptions & {
        json: boolean;
        at?: string;
        periodSeconds?: number;
        eventBusName?: string;
        dryRun: boolean;
        yes: boolean;
      },
    ) => {
      const target = load.target().applyTarget(options);
      const { chaosNow, renderChaos, confirmChaos, ChaosNotConfirmedError } = load.chaos();
      try {
        await confirmChaos({
          yes: options.yes,
          dryRun: options.dryRun,
          target: `${target.endpointUrl ?? `AWS ${target.region}`}`,
        });
      } catch (error) {
        if (!(error instanceof ChaosNotConfirmedError)) throw error;
        process.stderr.write(`${error.message}\n`);
        process.exitCode = ExitCodes.usage;
        return;
      }
      const report = await chaosNow({
        ...(options.at !== undefined ? { at: options.at } : {}),
        ...(options.periodSeconds !== undefined ? { periodSeconds: options.periodSeconds } : {}),
        ...(options.eventBusName !== undefined ? { eventBusName: options.eventBusName } : {}),
        dryRun: options.dryRun,
      });
      print(options.json ? JSON.stringify(report, null, 2) : renderChaos(report, options.dryRun));
    },
  );
}

/** `phoenix setup`: install the Python side. */
function registerSetup(program: Command, load: Loaders): void {
  program
    .command('setup')
    .description(
      'Install the Python side into .venv, if missing or out of date: the emulator (moto server) and cfn-lint, and apart in .venv/checkov the template scanner (Checkov)',
    )
    .action(async () => {
      const pythonEnv = load.pythonEnv();
      const env = await pythonEnv.ensurePythonEnv();
      process.stdout.write(`Python environment ready: ${env.venvDir}\n`);
      await pythonEnv.ensureScannerEnv();
      process.stdout.write(`Template scanner ready: ${pythonEnv.checkovPath()}\n`);
    });
}

export function buildProgram(): Command {
  const program = new Command()
    .name('phoenix')
    .description('Phoenix: an event-driven control plane for immutable server fleets on AWS')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride();
  registerLocal(program, load);
  registerEvents(program, load);
  registerStatus(program, load);
  registerPublish(program, load);
  registerHistory(program, load);
  registerReport(program, load);
  registerDescribe(program, load);
  registerPause(program, load);
  registerResume(program, load);
  registerRollback(program, load);
  registerRelease(program, load);
  registerUnpin(program, load);
  registerReconcile(program, load);
  registerChaos(program, load);
  registerChannels(program, load);
  registerApprove(program, load);
  registerPromote(program, load);
  registerSetup(program, load);
  return program;
}

/** The version in package.json (read when asked: `phoenix --version`). */
function packageVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../package.json') as { version: string }).version;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    // Commander's own exits (help, version, a usage error it has already printed), through exitOverride.
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? ExitCodes.ok : ExitCodes.usage;
      return;
    }
    throw error;
  }
}
