/**
 * `phoenix channels [--json]`: the pipeline. Each channel with its upstream (`promoteFrom`), its
 * current image (the parameter `/phoenix/channels/<channel>` and its version), the image waiting
 * for promotion and what it waits for (fleets not yet rolled, time left, approval, window) or why
 * it is blocked; and the quarantined images (AMIs tagged `phoenix:quarantined`). The decisions are
 * the promotion check's own (lambdas/steps/promote.ts, `act: false`: nothing is changed).
 *
 * `phoenix promote [<channel>] [--dry-run]`: run the promotion check now (what the scheduled
 * promote function runs), printing the result as JSON.
 *
 * The rules come from `--rules <json>`, else `$PHOENIX_PROMOTION_RULES`, else the channel records
 * (the promotion check records each channel's rule in `CHANNEL#<channel>`).
 */
import { Env, NAME_PATTERN } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import { parsePromotionRules, type PromotionDecision, type PromotionRule } from '../lambdas/domain/promotion';
import { listChannelParameters, quarantinedImages, scanChannelRecords } from '../lambdas/aws/channels';
import { type ChannelCheck, type PromoteReport, runPromotion } from '../lambdas/steps/promote';
import { useBus } from './pause';
import { table, time } from './render';

export interface ChannelView {
  readonly channel: string;
  readonly upstream?: string;
  readonly image?: string;
  readonly parameterVersion?: number;
  /** The upstream image waiting to be promoted here, and what for. */
  readonly waiting?: {
    readonly imageId: string;
    readonly waitingFor: readonly string[];
    readonly fleetsNotRolled: readonly string[];
    readonly until?: string;
    /** Seconds from now to `until`. */
    readonly secondsLeft?: number;
    readonly reason: string;
  };
  readonly blocked?: { readonly imageId: string; readonly blockedBy: string; readonly reason: string };
  /** Nothing to promote, and why. */
  readonly idle?: string;
  readonly rule?: PromotionRule;
}

export interface ChannelsModel {
  readonly at: string;
  readonly channels: readonly ChannelView[];
  readonly quarantined: readonly {
    readonly imageId: string;
    readonly name?: string;
    readonly reason: string;
  }[];
}

/** The model, pure: channels (parameters and rules), the check's decisions, the quarantined images. */
export function channelsModel(args: {
  parameters: ReadonlyMap<string, { value: string; version: number }>;
  rules: readonly PromotionRule[];
  checks: readonly Pick<ChannelCheck, 'channel' | 'decision'>[];
  quarantined: ChannelsModel['quarantined'];
  now: Date;
}): ChannelsModel {
  const names = new Set<string>([...args.parameters.keys()]);
  for (const r of args.rules) names.add(r.channel).add(r.promoteFrom);
  const channels = [...names].sort(byPipeline(args.rules)).map((channel): ChannelView => {
    const rule = args.rules.find((r) => r.channel === channel);
    const parameter = args.parameters.get(channel);
    const decision = args.checks.find((c) => c.channel === channel)?.decision;
    return {
      channel,
      ...(rule !== undefined ? { upstream: rule.promoteFrom, rule } : {}),
      ...(parameter !== undefined ? { image: parameter.value, parameterVersion: parameter.version } : {}),
      ...(decision !== undefined ? viewOf(decision, args.now) : {}),
    };
  });
  return { at: args.now.toISOString(), channels, quarantined: args.quarantined };
}

function viewOf(decision: PromotionDecision, now: Date): Partial<ChannelView> {
  switch (decision.kind) {
    case 'wait':
      return {
        waiting: {
          imageId: decision.imageId,
          waitingFor: decision.waitingFor,
          fleetsNotRolled: decision.fleetsNotRolled,
          ...(decision.until !== undefined
            ? {
                until: decision.until,
                secondsLeft: Math.max(0, Math.round((Date.parse(decision.until) - now.getTime()) / 1000)),
              }
            : {}),
          reason: decision.reason,
        },
      };
    case 'blocked':
      return {
        blocked: { imageId: decision.imageId, blockedBy: decision.blockedBy, reason: decision.reason },
      };
    case 'idle':
      return { idle: decision.reason };
    case 'promote':
      // A dry run found it promotable: the next check promotes it.
      return {
        waiting: {
          imageId: decision.imageId,
          waitingFor: ['next-check'],
          fleetsNotRolled: [],
          reason: `promotable now: ${decision.reason}`,
        },
      };
  }
}

/** Upstream channels before the channels promoted from them (then by name). */
function byPipeline(rules: readonly PromotionRule[]) {
  const depth = (c: string, seen: string[] = []): number => {
    const from = rules.find((r) => r.channel === c)?.promoteFrom;
    return from === undefined || seen.includes(from) ? 0 : 1 + depth(from, [...seen, c]);
  };
  return (a: string, b: string) => depth(a) - depth(b) || a.localeCompare(b);
}

const secondsText = (s: number) =>
  s >= 3600
    ? `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`
    : s >= 60
      ? `${Math.round(s / 60)} min`
      : `${s} s`;

/** What a channel's promotion stands at, in a few words. */
export function promotionText(view: ChannelView): string {
  if (view.blocked !== undefined)
    return `${view.blocked.imageId} BLOCKED (${view.blocked.blockedBy}): ${view.blocked.reason}`;
  const w = view.waiting;
  if (w !== undefined) {
    const parts = w.waitingFor.map((reason) => {
      switch (reason) {
        case 'fleets-not-rolled':
          return `fleets not rolled: ${w.fleetsNotRolled.join(', ')}`;
        case 'delay':
          return `delay: ${w.secondsLeft !== undefined ? `${secondsText(w.secondsLeft)} left` : 'running'}${w.until !== undefined ? ` (until ${time(w.until)})` : ''}`;
        case 'window':
          return `window${w.until !== undefined ? ` (opens ${time(w.until)})` : ''}`;
        case 'approval':
          return `approval (phoenix approve ${view.channel} ${w.imageId})`;
        case 'alarms-not-ok':
          return 'gating alarms not OK';
        default:
          return 'promoted at the next check';
      }
    });
    return `${w.imageId} waiting: ${parts.join('; ')}`;
  }
  if (view.upstream === undefined) return '-';
  return view.idle !== undefined ? `up to date (${view.idle})` : '-';
}

export function renderChannels(model: ChannelsModel): string {
  const rows = model.channels.map((c) => [
    c.channel,
    c.upstream ?? '-',
    c.image !== undefined ? `${c.image} (v${c.parameterVersion ?? 1})` : '-',
    promotionText(c),
  ]);
  const out = [table(['CHANNEL', 'FROM', 'IMAGE', 'PROMOTION'], rows)];
  if (model.quarantined.length > 0) {
    out.push(
      '',
      'quarantined images (never promoted):',
      table(
        ['IMAGE', 'NAME', 'REASON'],
        model.quarantined.map((q) => [q.imageId, q.name ?? '-', q.reason]),
      ),
    );
  }
  return out.join('\n');
}

/** The rules: `--rules`, else `$PHOENIX_PROMOTION_RULES`, else what the channel records hold. */
async function rulesFor(rulesJson: string | undefined, env: NodeJS.ProcessEnv): Promise<PromotionRule[]> {
  const json = rulesJson ?? env[Env.promotionRules];
  if (json !== undefined && json.trim() !== '') {
    try {
      return parsePromotionRules(json);
    } catch (error) {
      throw new ConfigurationError(`bad promotion rules: ${(error as Error).message}`);
    }
  }
  return (await scanChannelRecords()).flatMap((r) => (r.rule !== undefined ? [r.rule] : []));
}

export async function channelsCommand(
  options: { rules?: string; now?: Date } = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ChannelsModel> {
  const now = options.now ?? new Date();
  const rules = await rulesFor(options.rules, env);
  const parameters = await listChannelParameters();
  const report = rules.length > 0 ? await runPromotion({ rules, now, act: false }) : undefined;
  return channelsModel({
    parameters,
    rules,
    checks: report?.channels ?? [],
    quarantined: await quarantinedImages(),
    now,
  });
}

/** `phoenix promote`: the promotion check, now (`dryRun`: decide only). */
export async function promoteNow(
  options: { channel?: string; rules?: string; eventBusName?: string; dryRun?: boolean } = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<Omit<PromoteReport, 'channels'> & { channels: Omit<ChannelCheck, 'record'>[] }> {
  if (options.channel !== undefined && !NAME_PATTERN.test(options.channel)) {
    throw new ConfigurationError(`not a channel name: ${JSON.stringify(options.channel)}`);
  }
  useBus(options.eventBusName, env);
  const rules = await rulesFor(options.rules, env);
  const report = await runPromotion({
    rules,
    ...(options.channel !== undefined ? { channel: options.channel } : {}),
    act: !options.dryRun,
  });
  return { ...report, channels: report.channels.map(({ record: _record, ...rest }) => rest) };
}
