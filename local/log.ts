/**
 * The local runtime's own logger (not the handlers' Powertools logger): one line per message on
 * stderr, `[phoenix-local] LEVEL message {fields}`. Level from `PHOENIX_LOCAL_LOG_LEVEL`
 * (debug | info | warn | error | silent; default info).
 */

export type LocalLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface LocalLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LocalLogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

function parseLevel(value: string | undefined): LocalLogLevel | undefined {
  const level = value?.trim().toLowerCase();
  return level !== undefined && level in ORDER ? (level as LocalLogLevel) : undefined;
}

function render(fields: Record<string, unknown> | undefined): string {
  if (fields === undefined || Object.keys(fields).length === 0) return '';
  try {
    return ` ${JSON.stringify(fields, (_key, value: unknown) =>
      value instanceof Error ? { name: value.name, message: value.message } : value,
    )}`;
  } catch {
    return ' [unserializable fields]';
  }
}

/** A logger writing to `write` (default: process.stderr) at `level` and above. */
export function createLogger(
  options: { level?: LocalLogLevel; prefix?: string; write?: (line: string) => void } = {},
): LocalLogger {
  const level = options.level ?? parseLevel(process.env.PHOENIX_LOCAL_LOG_LEVEL) ?? 'info';
  const prefix = options.prefix ?? '[phoenix-local]';
  const write = options.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const at =
    (lineLevel: Exclude<LocalLogLevel, 'silent'>) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (ORDER[lineLevel] < ORDER[level]) return;
      write(`${prefix} ${lineLevel.toUpperCase()} ${message}${render(fields)}`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that drops everything (tests that assert on behaviour, not on log lines). */
export const silentLogger: LocalLogger = createLogger({ level: 'silent' });

/** The message of anything thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
