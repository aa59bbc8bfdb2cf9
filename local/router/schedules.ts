/**
 * Scheduled rules (`rate(...)`) fire every rate × timeScale: the router puts EventBridge's
 * "Scheduled Event" into the rule's router queue(s) (the emulator never fires schedules).
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describeError } from '../log';
import type { RuleQueue } from '../provision';
import type { LocalRule } from '../template';
import type { RouterContext } from './types';

/** Start a timer per enabled `rate(...)` rule; other schedules are logged and not fired. */
export function startSchedules(ctx: RouterContext): NodeJS.Timeout[] {
  const timers: NodeJS.Timeout[] = [];
  for (const rule of ctx.options.model.rules) {
    if (rule.scheduleExpression === undefined || rule.state !== 'ENABLED') continue;
    const periodMs = ratePeriodMs(rule.scheduleExpression);
    if (periodMs === undefined) {
      ctx.log.warn(
        `rule ${rule.name}: schedule ${rule.scheduleExpression} is not fired locally (only rate(...) is)`,
      );
      continue;
    }
    const routes = ctx.options.ruleQueues.filter((q) => q.rule.logicalId === rule.logicalId);
    const interval = Math.max(50, periodMs * ctx.timeScale);
    const timer = setInterval(() => {
      for (const route of routes) void fireSchedule(ctx, rule, route);
    }, interval);
    timers.push(timer);
  }
  return timers;
}

/** `rate(5 minutes)` → 300000; undefined for anything else. */
export function ratePeriodMs(expression: string): number | undefined {
  const match = /^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$/.exec(expression.trim());
  if (match === null) return undefined;
  const unit = match[2]!.startsWith('minute')
    ? 60_000
    : match[2]!.startsWith('hour')
      ? 3_600_000
      : 86_400_000;
  return Number(match[1]) * unit;
}

async function fireSchedule(ctx: RouterContext, rule: LocalRule, route: RuleQueue): Promise<void> {
  const event = {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: ctx.options.model.account,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: ctx.options.model.region,
    resources: [rule.arn],
    detail: {},
  };
  try {
    await ctx.sqs.send(
      new SendMessageCommand({ QueueUrl: route.queueUrl, MessageBody: JSON.stringify(event) }),
    );
  } catch (error) {
    if (!ctx.stopSignal.aborted) {
      ctx.log.warn(`could not fire schedule of rule ${rule.name}`, { error: describeError(error) });
    }
  }
}
