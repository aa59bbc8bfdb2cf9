/**
 * The demo: a fleet of 4 on image A, image B published the way a user would publish it (tag the
 * AMI into the fleet's channel, and the AMI State Change event), and the rollout shown live.
 *
 * Watchable: the demo fleet's warm-up and bake tags are set so that, whatever `--time-scale`,
 * each batch takes about `DEMO_WARMUP_REAL_SECONDS` of wall time and the bake
 * `DEMO_BAKE_REAL_SECONDS` (4 batches: 25–30 s in all on an idle machine). Phoenix's handlers are not touched: the
 * tags are the fleet's own settings. The outcomes are printed by `phoenix local` itself
 * (local/outcomes.ts `printOutcomes`), not here.
 */
import { SettingTags } from '../lambdas/domain/fleet-settings';
import { listenToOutcomes } from './outcomes';
import type { ExecutionRecord } from './stepfunctions';
import { type FleetView, World } from './world';

/** Wall-clock seconds each new instance warms up in the demo (the tag is this / time scale). */
export const DEMO_WARMUP_REAL_SECONDS = 4;
/** Wall-clock seconds of the demo's bake after the last batch. */
export const DEMO_BAKE_REAL_SECONDS = 3;

/** The demo fleet's setting tags for a time scale: warm-up and bake that last the real seconds above. */
export function demoFleetTags(timeScale: number): Record<string, string> {
  return {
    [SettingTags.warmupSeconds]: String(Math.round(DEMO_WARMUP_REAL_SECONDS / timeScale)),
    [SettingTags.bakeSeconds]: String(Math.round(DEMO_BAKE_REAL_SECONDS / timeScale)),
  };
}

export interface DemoRuntime {
  readonly endpoint: string;
  readonly region: string;
  readonly eventBusName: string;
  /** The runtime's `--time-scale` (default 1: the tags are then the real seconds). */
  readonly timeScale?: number;
  onExecutionEnd(listener: (record: ExecutionRecord) => void): () => void;
}

export interface DemoResult {
  readonly fleet: string;
  readonly groupName: string;
  readonly imageA: string;
  readonly imageB: string;
  readonly status: string;
  readonly wallMs: number;
  readonly outcomes: string[];
  readonly final: FleetView;
}

type Out = (line: string) => void;

function render(view: FleetView, labels: Map<string, string>): string {
  const cells = view.instances
    .filter((i) => !['Terminating', 'Terminated'].includes(i.lifecycleState ?? ''))
    .map((i) => {
      const label = labels.get(i.imageId ?? '') ?? '?';
      const state =
        i.lifecycleState === 'InService' && i.healthStatus === 'Healthy'
          ? ''
          : `(${i.lifecycleState ?? '?'})`;
      return `${i.instanceId}:${label}${state}`;
    });
  return `[${cells.join('  ')}]`;
}

export async function runDemo(
  runtime: DemoRuntime,
  out: Out,
  options: { fleet?: string; size?: number } = {},
): Promise<DemoResult> {
  const fleet = options.fleet ?? 'demo';
  const size = options.size ?? 4;
  const world = new World({ endpoint: runtime.endpoint, region: runtime.region });

  out(`demo: registering image A and a fleet "${fleet}" of ${size} instances on it`);
  const imageA = await world.registerImage(`${fleet}-image-a`, fleet);
  const tags = demoFleetTags(runtime.timeScale ?? 1);
  const groupName = await world.createFleet({ fleet, imageId: imageA, size, tags });
  const labels = new Map([[imageA, 'A']]);
  out(
    `demo: fleet ${fleet} (Auto Scaling group ${groupName}, tag phoenix:fleet=${fleet}) ${render(await world.viewFleet(groupName), labels)}`,
  );
  out(
    `demo: each new instance warms up (${SettingTags.warmupSeconds}=${tags[SettingTags.warmupSeconds]}, ~${DEMO_WARMUP_REAL_SECONDS} s here) and the fleet bakes at the end (${SettingTags.bakeSeconds}=${tags[SettingTags.bakeSeconds]}, ~${DEMO_BAKE_REAL_SECONDS} s)`,
  );

  const outcomes: string[] = [];
  const listener = await listenToOutcomes({
    endpoint: runtime.endpoint,
    region: runtime.region,
    eventBusName: runtime.eventBusName,
    name: 'phoenix-demo-outcomes',
    onOutcome: ({ detailType }) => void outcomes.push(detailType),
  });

  const ended = new Promise<ExecutionRecord>((resolve) => {
    const off = runtime.onExecutionEnd((record) => {
      if ((JSON.parse(record.input) as { fleet?: unknown }).fleet === fleet) {
        off();
        resolve(record);
      }
    });
  });

  const imageB = await world.registerImage(`${fleet}-image-b`);
  labels.set(imageB, 'B');
  out(
    `demo: publishing image B (${imageB}): tag phoenix:channel=${fleet}, then the EC2 AMI State Change event`,
  );
  const started = Date.now();
  await world.tagImage(imageB, fleet);
  await world.announceImage(imageB);

  let last = '';
  let finished: ExecutionRecord | undefined;
  void ended.then((record) => (finished = record));
  while (finished === undefined) {
    const line = render(await world.viewFleet(groupName), labels);
    if (line !== last) {
      out(`demo: +${((Date.now() - started) / 1000).toFixed(1)}s ${line}`);
      last = line;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const wallMs = Date.now() - started;
  const final = await world.viewFleet(groupName);
  // The outcome event may trail the execution's end by a poll.
  await listener
    .waitFor((e) => e.detail['fleet'] === fleet && e.detailType !== 'RolloutStarted', 5_000)
    .catch(() => out('demo: (no final outcome event arrived within 5 s)'));
  await listener.stop();

  const onB = final.instances.filter((i) => i.imageId === imageB).length;
  out(`demo: +${(wallMs / 1000).toFixed(1)}s ${render(final, labels)}`);
  // A handled outcome (rolled back, rejected…) ends SUCCEEDED too: say which (docs/architecture.md).
  const endedAs = handledOutcomeOf(finished.output) ?? finished.status;
  out(
    `demo: rollout ${endedAs} in ${(wallMs / 1000).toFixed(1)} s: ${onB} of ${final.instances.length} instances on image B, desired capacity ${final.desiredCapacity}`,
  );
  out(`demo: keep watching (another terminal, with the export line below):`);
  out(`demo:   node bin/phoenix.js status ${fleet} --watch    # the fleet live: batches, gates, instances`);
  out(`demo:   node bin/phoenix.js events --follow        # every outcome Phoenix decides`);
  out(`demo:   the web view: its URL is printed with the endpoint when phoenix local serves it`);
  out(`demo: everything you do next is printed here as "outcome:" lines`);
  return { fleet, groupName, imageA, imageB, status: finished.status, wallMs, outcomes, final };
}

/** The outcome of a Rollout execution that ended in a handled outcome (`{ outcome, reason }` output). */
function handledOutcomeOf(output: string | undefined): string | undefined {
  try {
    const outcome = (JSON.parse(output ?? 'null') as { outcome?: unknown } | null)?.outcome;
    return typeof outcome === 'string' ? outcome : undefined;
  } catch {
    return undefined;
  }
}
