/**
 * `phoenix events [--follow] [--fleet F] [--since T] [--json] [--all]`: every outcome Phoenix decided, one
 * line each, read from the outcome archive (the log group a rule on the Phoenix bus writes every
 * outcome event into: lib/capabilities/outcome-archive.ts). The same in AWS and against
 * `phoenix local`: the command reads the log group with FilterLogEvents, nothing else.
 *
 * The formatter (`formatOutcome`) is also what `phoenix local` prints as each outcome happens.
 */
import { DetailTypes } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import type { FilterLogEventsInput, FilterLogEventsOutput } from './logs-api';

/** Where `phoenix events` finds the archive when `--log-group` is not given. */
export const OUTCOME_LOG_GROUP_ENV = 'PHOENIX_OUTCOME_LOG_GROUP';

/** One archived outcome event. */
export interface OutcomeRecord {
  readonly id: string;
  /** The event's time (ISO 8601), else the log event's timestamp. */
  readonly time: string;
  readonly type: string;
  readonly fleet?: string;
  readonly detail: Record<string, unknown>;
}

/** What `phoenix events` reads with: FilterLogEvents (`logsApi(...)` or CloudWatchLogsClient). */
export interface OutcomeLogReader {
  filterLogEvents(input: FilterLogEventsInput): Promise<FilterLogEventsOutput>;
}

// ---- --since ------------------------------------------------------------------------------------

const DURATION_UNITS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * `--since`: an ISO 8601 time (`2026-12-01T10:00:00Z`) or a duration before `now` (`90s`, `10m`,
 * `2h`, `1d`, `1h30m`). Returns epoch milliseconds; throws a ConfigurationError quoting the value.
 */
export function parseSince(value: string, now: number = Date.now()): number {
  const text = value.trim();
  if (/^(\d+[smhd])+$/.test(text)) {
    let ms = 0;
    for (const [, n, unit] of text.matchAll(/(\d+)([smhd])/g)) ms += Number(n) * DURATION_UNITS[unit!]!;
    return now - ms;
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const at = Date.parse(text);
    if (Number.isFinite(at)) return at;
  }
  throw new ConfigurationError(
    `--since: ${JSON.stringify(value)} is neither an ISO 8601 time (2026-12-01T10:00:00Z) nor a duration (90s, 10m, 2h, 1d)`,
  );
}

// ---- the line ----------------------------------------------------------------------------------

/** How an outcome reads: succeeded (green), handled but not done (yellow), needs a human (red). */
export type OutcomeKind = 'succeeded' | 'handled' | 'failed' | 'info';

// A failed validation is the image's failure, handled as designed (like a rejected rollout): not a human's.
const FAILED = /^(?!ImageValidationFailed$).*Failed$|CircuitOpen$|ImageMissing$/;
const HANDLED =
  /Rejected$|RolledBack$|Skipped$|Deferred$|Superseded$|Paused$|Queued$|Ignored$|Invalid$|^StrayInstance$|Quarantined$|^ImageValidationFailed$|^PromotionWaiting$|^PromotionBlocked$/;
const SUCCEEDED =
  /Succeeded$|Replaced$|Drained$|CircuitClosed$|Resumed$|Unpinned$|Promoted$|Validated$|Released$|Approved$/;

export function outcomeKind(type: string): OutcomeKind {
  if (FAILED.test(type)) return 'failed';
  if (HANDLED.test(type)) return 'handled';
  if (SUCCEEDED.test(type)) return 'succeeded';
  return 'info';
}

const COLOURS: Readonly<Record<OutcomeKind, string | undefined>> = {
  succeeded: '\u001b[32m',
  handled: '\u001b[33m',
  failed: '\u001b[31m',
  info: undefined,
};

/** Colour when writing to a terminal and `NO_COLOR` is unset or empty (https://no-color.org). */
export function useColour(stream: { isTTY?: boolean } = process.stdout, env = process.env): boolean {
  return stream.isTTY === true && (env['NO_COLOR'] ?? '') === '';
}

const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/** The image or the instance(s) an outcome is about. */
function subject(detail: Record<string, unknown>): string {
  const image = str(detail['imageId']);
  const instance = str(detail['instanceId']);
  const instances = Array.isArray(detail['instanceIds'])
    ? (detail['instanceIds'] as unknown[]).filter((i): i is string => typeof i === 'string')
    : [];
  const parts = [
    ...(image !== undefined ? [image] : []),
    ...(instance !== undefined ? [instance] : []),
    ...(instances.length > 0 ? [instances.join(',')] : []),
  ];
  return parts.length > 0 ? parts.join(' ') : '-';
}

/** One line: `time  fleet  type  image|instance  reason`, the type coloured by kind when `colour`. */
export function formatOutcome(record: OutcomeRecord, options: { colour?: boolean } = {}): string {
  const colour = options.colour === true ? COLOURS[outcomeKind(record.type)] : undefined;
  const type = record.type.padEnd(22);
  const reason = str(record.detail['reason']);
  return [
    record.time.replace(/\.\d+Z$/, 'Z'),
    (record.fleet ?? '-').padEnd(12),
    colour !== undefined ? `${colour}${type}\u001b[0m` : type,
    subject(record.detail),
    ...(reason !== undefined ? [`— ${reason}`] : []),
  ].join('  ');
}

/** `--json`: one object per line. */
export function outcomeJson(record: OutcomeRecord): string {
  return JSON.stringify(record);
}

// ---- reading the archive -------------------------------------------------------------------------

/** An archived log event's message (the whole EventBridge event) as an outcome; undefined if it is not one. */
export function parseOutcome(message: string, timestamp?: number): OutcomeRecord | undefined {
  let event: unknown;
  try {
    event = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof event !== 'object' || event === null) return undefined;
  const e = event as Record<string, unknown>;
  const type = str(e['detail-type']);
  if (type === undefined) return undefined;
  const detail =
    typeof e['detail'] === 'object' && e['detail'] !== null ? (e['detail'] as Record<string, unknown>) : {};
  const time = str(e['time']) ?? new Date(timestamp ?? 0).toISOString();
  const fleet = str(detail['fleet']);
  return { id: str(e['id']) ?? '', time, type, ...(fleet !== undefined ? { fleet } : {}), detail };
}

export interface ReadOutcomesOptions {
  readonly logGroupName: string;
  /** Epoch milliseconds (default: everything kept). */
  readonly since?: number;
  readonly fleet?: string;
}

/** The FilterLogEvents pattern of `--fleet`: the JSON field `$.detail.fleet`. */
function fleetPattern(fleet: string | undefined): { filterPattern?: string } {
  return fleet !== undefined ? { filterPattern: `{ $.detail.fleet = ${JSON.stringify(fleet)} }` } : {};
}

interface Page {
  readonly records: { record: OutcomeRecord; eventId: string; timestamp: number }[];
}

async function readAll(
  reader: OutcomeLogReader,
  options: ReadOutcomesOptions,
  startTime: number | undefined,
): Promise<Page> {
  const records: Page['records'] = [];
  let nextToken: string | undefined;
  do {
    const page = await reader.filterLogEvents({
      logGroupName: options.logGroupName,
      ...(startTime !== undefined ? { startTime } : {}),
      ...fleetPattern(options.fleet),
      ...(nextToken !== undefined ? { nextToken } : {}),
    });
    for (const event of page.events ?? []) {
      const record = parseOutcome(event.message ?? '', event.timestamp);
      // The pattern is also checked here: an endpoint that ignores filter patterns reads the same.
      if (record === undefined || (options.fleet !== undefined && record.fleet !== options.fleet)) continue;
      records.push({
        record,
        // Event ids are unique within the log group in AWS; the stream name keeps them so anywhere.
        eventId: `${event.logStreamName ?? ''}/${event.eventId ?? `${event.timestamp ?? 0}/${records.length}`}`,
        timestamp: Math.floor(event.timestamp ?? 0),
      });
    }
    // The service leaves nextToken out on the last page; an emulator may send null.
    nextToken = typeof page.nextToken === 'string' && page.nextToken !== '' ? page.nextToken : undefined;
  } while (nextToken !== undefined);
  records.sort((a, b) => a.record.time.localeCompare(b.record.time) || a.timestamp - b.timestamp);
  return { records };
}

/** Every archived outcome since `since` (of `fleet`), oldest first: FilterLogEvents, all pages. */
export async function readOutcomes(
  reader: OutcomeLogReader,
  options: ReadOutcomesOptions,
): Promise<OutcomeRecord[]> {
  return (await readAll(reader, options, options.since)).records.map((r) => r.record);
}

/**
 * `--follow`: the outcomes so far, then each new one, never one twice. The cursor is the newest
 * log timestamp seen (re-read from there, as log events of the same millisecond may arrive late)
 * and the ids of the events at that timestamp. Ends when `signal` aborts.
 */
export async function* followOutcomes(
  reader: OutcomeLogReader,
  options: ReadOutcomesOptions & { pollMs?: number; signal?: AbortSignal },
): AsyncGenerator<OutcomeRecord> {
  const seen = new Set<string>();
  let cursor = options.since;
  while (options.signal?.aborted !== true) {
    const { records } = await readAll(reader, options, cursor);
    for (const { record, eventId, timestamp } of records) {
      if (seen.has(eventId)) continue;
      seen.add(eventId);
      if (cursor === undefined || timestamp > cursor) cursor = timestamp;
      yield record;
    }
    // Only the ids at the cursor's millisecond can come back: forget the older ones.
    for (const { eventId, timestamp } of records) if (timestamp < (cursor ?? 0)) seen.delete(eventId);
    await sleep(options.pollMs ?? 2_000, options.signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

// ---- the command -------------------------------------------------------------------------------

/**
 * A reconcile sweep that found no difference, started nothing and reclaimed no slot: one every
 * sweep (every few seconds locally), left out unless `--all`. Every other outcome is shown.
 */
export function isQuietOutcome(record: OutcomeRecord): boolean {
  return (
    record.type === DetailTypes.ReconcileCompleted &&
    record.detail['differences'] === 0 &&
    record.detail['started'] === 0 &&
    (record.detail['reclaimedSlots'] ?? 0) === 0
  );
}

export interface EventsCommandOptions {
  readonly follow?: boolean;
  readonly fleet?: string;
  readonly since?: string;
  readonly json?: boolean;
  readonly logGroup?: string;
  /** Also the quiet sweeps (`isQuietOutcome`). */
  readonly all?: boolean;
}

/** The archive's log group from `--log-group` or `$PHOENIX_OUTCOME_LOG_GROUP`. */
export function outcomeLogGroup(options: { logGroup?: string }, env = process.env): string {
  const name = options.logGroup?.trim() || env[OUTCOME_LOG_GROUP_ENV]?.trim();
  if (name === undefined || name === '') {
    throw new ConfigurationError(
      `no outcome log group: pass --log-group <name> or set ${OUTCOME_LOG_GROUP_ENV} ` +
        `(phoenix local prints it in its export line; in AWS it is the Phoenix stack's output OutcomeLogGroupName)`,
    );
  }
  return name;
}

/** `phoenix events`: print the outcomes (and with `follow`, keep printing until `signal` aborts). */
export async function runEvents(
  reader: OutcomeLogReader,
  options: EventsCommandOptions,
  out: (line: string) => void,
  context: { colour?: boolean; now?: number; signal?: AbortSignal; pollMs?: number } = {},
): Promise<void> {
  const read: ReadOutcomesOptions = {
    logGroupName: outcomeLogGroup(options),
    ...(options.since !== undefined ? { since: parseSince(options.since, context.now) } : {}),
    ...(options.fleet !== undefined ? { fleet: options.fleet } : {}),
  };
  const line = (record: OutcomeRecord) =>
    options.json === true ? outcomeJson(record) : formatOutcome(record, { colour: context.colour ?? false });
  const shown = (record: OutcomeRecord) => options.all === true || !isQuietOutcome(record);
  if (options.follow !== true) {
    for (const record of await readOutcomes(reader, read)) if (shown(record)) out(line(record));
    return;
  }
  for await (const record of followOutcomes(reader, {
    ...read,
    ...(context.signal !== undefined ? { signal: context.signal } : {}),
    ...(context.pollMs !== undefined ? { pollMs: context.pollMs } : {}),
  })) {
    if (shown(record)) out(line(record));
  }
}
