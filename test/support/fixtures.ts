/**
 * Real published AWS sample events, verbatim, in `test/fixtures/events/<source>/<variant>.json`
 * (sources in `test/fixtures/events/SOURCES.md`). Tests derive variants explicitly with `derive`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'events');

export function awsEvent(source: string, variant: string): Record<string, any> {
  const file = path.join(FIXTURES, source, `${variant}.json`);
  if (!existsSync(file)) throw new Error(`no fixture ${file}`);
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
}

/** A copy of a real event with some detail fields replaced (e.g. a placeholder id by a real one). */
export function derive(
  event: Record<string, any>,
  detail: Record<string, unknown>,
  top: Record<string, unknown> = {},
) {
  const copy = structuredClone(event);
  return { ...copy, ...top, detail: { ...copy['detail'], ...detail } };
}
