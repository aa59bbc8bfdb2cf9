/**
 * The `phoenix` command line.
 *
 *   phoenix local [--demo] [--time-scale <n>] [--region <r>]   the embedded local cloud
 *   phoenix events classify FILE...                            what Phoenix makes of each event
 *   phoenix setup                                              install the Python side (.venv)
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { classifyFiles } from '../local/classify';
import { runLocal } from '../local/cli-local';
import { ensurePythonEnv } from '../local/python-env';

function parseTimeScale(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) {
    throw new InvalidArgumentError(`must be a number in (0, 1], got ${JSON.stringify(value)}`);
  }
  return n;
}

export function buildProgram(): Command {
  const program = new Command()
    .name('phoenix')
    .description('Phoenix: an event-driven control plane for immutable server fleets on AWS')
    .showHelpAfterError();

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
    .action(async (options: { demo: boolean; timeScale: number; region: string }) => {
      await runLocal(options);
    });

  program
    .command('events')
    .description('Work with events')
    .command('classify')
    .description(
      'Print what Phoenix makes of each event file (one EventBridge event per file): one JSON object per line. ' +
        'Exits 2 if a file is not JSON or not an event (the others are still classified).',
    )
    .argument('<files...>', 'files, each holding one EventBridge event')
    .action((files: string[]) => {
      process.exitCode = classifyFiles(files);
    });

  program
    .command('setup')
    .description(
      'Install the Python side (moto server, cfn-lint) into .venv, if it is missing or out of date',
    )
    .action(async () => {
      const env = await ensurePythonEnv();
      process.stdout.write(`Python environment ready: ${env.venvDir}\n`);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
