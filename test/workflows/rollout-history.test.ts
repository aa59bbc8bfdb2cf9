/**
 * Bounded history (continue-as-new): the synthesized Rollout definition, executed locally with
 * scripted step doubles, rolls a 1,000-instance fleet one instance at a time (max-surge 1: 1,000
 * batches) in a chain of executions, none of which records more than 2,500 history events as AWS
 * counts them. Also the worst case of one execution: every wait loop at its bound.
 */
import { describe, expect, it } from 'vitest';
import { continuationName, segmentHistory } from '../../lambdas/domain/rollout';
import type { ExecutionRecord } from '../../local/stepfunctions';
import { HISTORY_EVENT_BUDGET } from '../../lib/workflow-kit';
import { fail, type Scripts, useWorkflow } from '../support/workflow-harness';

/** AWS's hard ceiling that the brief sets (the budget Phoenix plans with is HISTORY_EVENT_BUDGET). */
const LIMIT = 2500;

function nextSegment(execution: string) {
  const current = Number(/-c(\d+)$/.exec(execution)?.[1] ?? '1');
  return { name: continuationName(execution, current + 1), from: execution, number: current + 1 };
}

/** A fleet of `size` on the old image, rolled one instance per batch. */
function fleetScripts(size: number): Scripts {
  let remainingOld = size;
  return {
    ReadImage: (p) => ({ imageId: p['state'].imageId, creationDate: '2026-11-20T10:00:00.000Z' }),
    AcquireFleetLock: () => ({ deadline: 4_000_000_000 }),
    TakeOverFleetLock: (p) => ({ ...p['state'].lock }),
    ValidateImage: () => ({
      groupName: 'big-asg',
      launchTemplateId: 'lt-0123456789abcdef0',
      previousVersion: '1',
      previousVersionNumber: 1,
      previousImageId: 'ami-00000000000000001',
      desiredCapacity: size,
      minSize: size,
      maxSize: size,
      batchSize: 1,
      minHealthy: size,
      warmupSeconds: 0,
      bakeSeconds: 0,
      alarms: [],
      maxChecks: 40,
      upToDate: false,
      suspendProcesses: ['AZRebalance', 'AlarmNotification', 'ScheduledActions'],
    }),
    CheckAlarms: () => ({ checked: 0 }),
    SuspendScalingProcesses: () => ({ suspended: ['AZRebalance'] }),
    ReconcileLaunchTemplate: () => ({ version: '2' }),
    LaunchBatch: (p) => ({
      batch: 1,
      expectedNew: size + 1 - remainingOld,
      remainingOld,
      ready: false,
      checks: 0,
      replaced: p['state'].progress?.replaced ?? 0,
    }),
    CheckBatchHealth: (p) => ({
      ...p['state'].progress,
      ready: true,
      checks: p['state'].progress.checks + 1,
    }),
    RetireBatch: (p) => {
      remainingOld -= 1;
      return { ...p['state'].progress, remainingOld, replaced: p['state'].progress.replaced + 1 };
    },
    CheckSafePoint: (p) => ({
      continuation: nextSegment(p['execution']),
      ...segmentHistory(p['historyBudget'], p['execution'], p['state'].safePoint, p['state'].progress.checks),
    }),
    ReleaseFleet: () => ({ resumed: ['AZRebalance'], limitsRestored: true }),
    CommitRollout: () => ({ outcome: 'RolloutSucceeded' }),
    ReportOutcome: (p) => ({ outcome: p['outcome'] }),
    StartRollback: () => ({ ready: false, checks: 0, nothingToUndo: false }),
    CheckRollbackCapacity: (p) => ({ ...p['state'].rollback, ready: true, checks: 1 }),
    FinishRollback: (p) => ({ ...p['state'].rollback, removedNew: 1 }),
  };
}

const wf = useWorkflow('Rollout', () => fleetScripts(4));

/**
 * The events AWS records for an execution, from the states it entered: a Task 5 (TaskStateEntered,
 * TaskScheduled, TaskStarted, TaskSucceeded/TaskFailed, TaskStateExited), a callback Task
 * (`.waitForTaskToken`) 6 (TaskSubmitted too; TaskTimedOut for a timeout), any other state 2, each
 * retry 3 more (TaskFailed, TaskScheduled, TaskStarted), ExecutionStarted and the end event 2.
 * The types come from the synthesized definition (locally a path-based Wait runs as a Task).
 */
function awsHistoryEvents(record: ExecutionRecord): number {
  const machine = wf.model.stateMachines.find((m) => m.logicalId.includes('Rollout'))!;
  const states = (
    JSON.parse(machine.definitionString) as { States: Record<string, { Type: string; Resource?: string }> }
  ).States;
  let events = 2;
  for (const event of record.events) {
    if (event.type.endsWith('StateEntered')) {
      const name = (event as { stateEnteredEventDetails?: { name?: string } }).stateEnteredEventDetails?.name;
      const type = name !== undefined ? states[name]?.Type : undefined;
      expect(type, `state ${name}`).toBeDefined();
      const callback = String(states[name!]?.Resource ?? '').endsWith('.waitForTaskToken');
      events += type === 'Task' ? (callback ? 6 : 5) : 2;
    } else if (event.type === 'StateRetried') {
      events += 3;
    }
  }
  return events;
}

describe('Rollout workflow: bounded history (continue-as-new)', () => {
  it('rolls 1,000 instances one at a time in a chain of executions, each under 2,500 history events', async () => {
    wf.scripts = fleetScripts(1000);
    const last = await wf.run('big', {
      fleet: 'big',
      imageId: 'ami-00000000000000002',
      channel: 'big',
      cause: 'test',
      requestId: 'event-big',
    });
    expect(last.status).toBe('SUCCEEDED');
    expect(wf.steps().filter((s) => s === 'RetireBatch')).toHaveLength(1000);
    expect(wf.steps().filter((s) => s === 'CommitRollout')).toHaveLength(1);
    const executions = wf.executions;
    // Deterministic names, each continuation taking the lock from its predecessor.
    expect(executions[1]!.name).toBe('big-c2');
    expect(executions.at(-1)!.name).toBe(`big-c${executions.length}`);
    expect(wf.calls.filter((c) => c.step === 'TakeOverFleetLock')).toHaveLength(executions.length - 1);
    expect(executions.slice(0, -1).every((e) => JSON.parse(e.output!).continued !== undefined)).toBe(true);
    const counts = executions.map(awsHistoryEvents);
    const largest = Math.max(...counts);
    console.info(
      `1,000 instances, max-surge 1: ${executions.length} executions, largest history ${largest} AWS events (local records: ${Math.max(...executions.map((e) => e.events.length))})`,
    );
    expect(largest).toBeLessThan(LIMIT);
  }, 600_000);

  it('stays within the budget in the worst case of one execution: every wait loop at its bound, then a failed rollback', async () => {
    const scripts = fleetScripts(30);
    // 60 waits for a global slot that time out (the most its deadline allows), then one woken
    // (WaitForRolloutSlot, the callback pattern: its costlier lock wait); 11 quick batches, which
    // leave just room for one more batch at its worst and the worst end; that batch never becomes
    // healthy (10 fast checks, as CheckBatchHealth paces a batch waiting for its target groups'
    // initial health checks, and 40 counted ones), and the rollback's capacity comes back only at
    // its 40th check, then its last step fails (RolloutFailed).
    scripts['AcquireFleetLock'] = (_p, n) => {
      if (n < 61) throw fail('RolloutSlotQueuedError', 'all 20 rollout slots are in use');
      return { deadline: 4_000_000_000 };
    };
    scripts['WaitForRolloutSlot'] = (p, n) => {
      if (n === 60) wf.service.sendTaskSuccess(p['token'], JSON.stringify({ granted: true, at: 'now' }));
      return { registered: true, acquired: false };
    };
    scripts['CheckBatchHealth'] = (p) => {
      const progress = p['state'].progress;
      const checks = progress.checks + 1;
      const fastChecks = progress.fastChecks ?? 0;
      if (progress.replaced < 11) return { ...progress, ready: true, checks };
      if (checks - fastChecks >= 40)
        throw fail('BatchNotHealthyError', 'after 50 checks, 0 of 1 instances are serving');
      expect(p['pacing']).toStrictEqual({ pollSeconds: 15, fastChecks: 10 });
      return fastChecks < 10
        ? { ...progress, ready: false, checks, nextCheckSeconds: 5, fastChecks: fastChecks + 1 }
        : { ...progress, ready: false, checks, nextCheckSeconds: 15, fastChecks };
    };
    scripts['CheckRollbackCapacity'] = (p) => {
      const checks = p['state'].rollback.checks + 1;
      return { ...p['state'].rollback, ready: checks >= 40, checks };
    };
    scripts['FinishRollback'] = () => {
      throw fail('ValidationError', 'cannot terminate');
    };
    wf.scripts = scripts;
    const result = await wf.run('worst', {
      fleet: 'web',
      imageId: 'ami-00000000000000002',
      channel: 'web',
      cause: 'test',
      requestId: 'event-worst',
    });
    expect(result.error).toBe('RolloutFailed');
    expect(wf.executions).toHaveLength(1);
    expect(wf.steps().filter((s) => s === 'WaitForRolloutSlot')).toHaveLength(61);
    expect(result.events.filter((e) => e.type === 'TaskTimedOut')).toHaveLength(60);
    expect(wf.steps().filter((s) => s === 'RetireBatch')).toHaveLength(11);
    expect(wf.steps().filter((s) => s === 'CheckBatchHealth')).toHaveLength(11 + 50);
    expect(wf.steps().filter((s) => s === 'CheckRollbackCapacity')).toHaveLength(40);
    const events = awsHistoryEvents(result);
    console.info(`worst case of one execution: ${events} AWS history events`);
    expect(events).toBeGreaterThan(1800);
    expect(events).toBeLessThanOrEqual(HISTORY_EVENT_BUDGET);
  }, 120_000);
});
