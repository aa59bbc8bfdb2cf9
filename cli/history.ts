/**
 * `phoenix history <fleet>`: what Phoenix did to a fleet, newest first, read from its fleet record
 * (DynamoDB): the rollouts (a `phoenix rollback` marked as a rollback) with their outcomes, and the
 * replacements (cause, instance, outcome) its Replace workflows recorded as they ended.
 *
 * The environment says where (see cli/target.ts). Nothing here writes anything.
 */
import type { HistoryEntry, ReplacementEntry } from '../lambdas/domain/fleet-record';
import { readFleetRecord } from '../lambdas/aws/store/fleet-records';
import { checkFleetName } from './pause';
import { table, time } from './render';

/** A rollout's outcome (the fleet's image history). */
export interface HistoryItem {
  /** `rollback`: a `phoenix rollback` execution. */
  readonly kind: 'rollout' | 'rollback';
  readonly at: string;
  readonly imageId: string;
  readonly outcome: string;
  readonly execution: string;
  readonly reason: string | null;
  readonly step: string | null;
}

/** A replacement's end (the fleet's replacement history). */
export interface ReplacementItem {
  readonly kind: 'replacement';
  readonly at: string;
  /** The replaced instance. */
  readonly instanceId: string;
  /** The image it ran; null when not known. */
  readonly imageId: string | null;
  /** Why (`status-check`, `interruption`, `drift` …). */
  readonly cause: string;
  /** `replaced`, `failed` or `skipped`. */
  readonly outcome: string;
  readonly execution: string;
  readonly replacementInstanceId: string | null;
  readonly reason: string | null;
  readonly step: string | null;
}

export type HistoryLine = HistoryItem | ReplacementItem;

export interface HistoryReport {
  readonly fleet: string;
  /** false: Phoenix has no record of the fleet (never rolled out nor replaced). */
  readonly recorded: boolean;
  readonly desiredImage: string | null;
  readonly previousImage: string | null;
  /** Rollouts and replacements, newest first. */
  readonly history: readonly HistoryLine[];
}

export const historyItem = (entry: HistoryEntry, pinnedBy?: string): HistoryItem => ({
  kind: entry.mode === 'rollback' || entry.execution === pinnedBy ? 'rollback' : 'rollout',
  at: entry.at,
  imageId: entry.imageId,
  outcome: entry.outcome,
  execution: entry.execution,
  reason: entry.reason ?? null,
  step: entry.step ?? null,
});

export const replacementItem = (entry: ReplacementEntry): ReplacementItem => ({
  kind: 'replacement',
  at: entry.at,
  instanceId: entry.instanceId,
  imageId: entry.imageId ?? null,
  cause: entry.cause,
  outcome: entry.outcome,
  execution: entry.execution,
  replacementInstanceId: entry.replacementInstanceId ?? null,
  reason: entry.reason ?? null,
  step: entry.step ?? null,
});

export async function fleetHistory(fleet: string, options: { limit?: number } = {}): Promise<HistoryReport> {
  checkFleetName(fleet);
  const record = await readFleetRecord(fleet);
  const pinnedBy = record?.pinnedImage?.execution;
  const lines: HistoryLine[] = [
    ...(record?.imageHistory ?? []).map((e) => historyItem(e, pinnedBy)),
    ...(record?.replacementHistory ?? []).map(replacementItem),
  ];
  // Newest first; each list is oldest first, so a stable sort of the reversed union keeps ties in
  // the order they were written.
  const history = lines.reverse().sort((a, b) => b.at.localeCompare(a.at));
  return {
    fleet,
    recorded: record !== undefined,
    desiredImage: record?.desiredImage ?? null,
    previousImage: record?.previousImage ?? null,
    history: options.limit !== undefined ? history.slice(0, options.limit) : history,
  };
}

function subject(line: HistoryLine): string {
  if (line.kind !== 'replacement') return line.imageId;
  const replaced = line.replacementInstanceId !== null ? ` → ${line.replacementInstanceId}` : '';
  return `${line.instanceId} (${line.cause})${replaced}`;
}

export function renderHistory(report: HistoryReport): string {
  const head = report.recorded
    ? `Fleet ${report.fleet}: desired image ${report.desiredImage ?? 'unknown'}${report.previousImage !== null ? ` (previous ${report.previousImage})` : ''}`
    : `Fleet ${report.fleet}: no record yet (Phoenix has not rolled it out nor replaced an instance)`;
  if (report.history.length === 0) return `${head}\nNo history.`;
  return [
    head,
    table(
      ['TIME', 'KIND', 'IMAGE / INSTANCE', 'OUTCOME', 'EXECUTION', 'STEP', 'REASON'],
      report.history.map((h) => [
        time(h.at),
        h.kind,
        subject(h),
        h.outcome,
        h.execution,
        h.step ?? '-',
        h.reason ?? '-',
      ]),
    ),
  ].join('\n');
}
