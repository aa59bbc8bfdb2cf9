/**
 * Real published AWS sample events. They live in the shared fixtures folder beside the project
 * (`../shared/fixtures/aws-events/<type>/<n>.json`, each with its source in SOURCES.md there);
 * CI has the same folder. Tests read them verbatim and derive variants explicitly.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const SHARED_FIXTURES = path.resolve(__dirname, '..', '..', '..', 'shared', 'fixtures', 'aws-events');

export function awsEvent(type: string, variant = '1'): Record<string, any> {
  const file = path.join(SHARED_FIXTURES, type, `${variant}.json`);
  if (!existsSync(file)) {
    throw new Error(
      `fixture ${file} is missing: the shared fixtures folder must sit beside the project (../shared)`,
    );
  }
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
