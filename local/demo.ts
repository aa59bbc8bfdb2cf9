/**
 * The demo: a fleet of 4 on image A, image B published the way a user would publish it (tag the
 * AMI into the fleet's channel, and the AMI State Change event), and the rollout shown live.
 */
import { listenToOutcomes } from './outcomes';
import type { ExecutionRecord } from './stepfunctions';
import { type FleetView, World } from './world';

export interface DemoRuntime {
  readonly endpoint: string;
  readonly region: string;
  readonly eventBusName: string;
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
  const groupName = await world.createFleet({ fleet, imageId: imageA, size });
  const labels = new Map([[imageA, 'A']]);
  out(
    `demo: fleet ${fleet} (Auto Scaling group ${groupName}, tag phoenix:fleet=${fleet}) ${render(await world.viewFleet(groupName), labels)}`,
  );

  const outcomes: string[] = [];
  const listener = await listenToOutcomes({
    endpoint: runtime.endpoint,
    region: runtime.region,
    eventBusName: runtime.eventBusName,
    name: 'phoenix-demo-outcomes',
    onOutcome: ({ detailType, detail }) => {
      outcomes.push(detailType);
      const text = (value: unknown) => (typeof value === 'string' ? value : '-');
      const reason = typeof detail['reason'] === 'string' ? ` — ${detail['reason']}` : '';
      out(
        `demo: outcome ${detailType} fleet=${text(detail['fleet'])} image=${text(detail['imageId'])}${reason}`,
      );
    },
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
