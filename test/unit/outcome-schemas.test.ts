/**
 * The outcome JSON Schemas (schemas/outcomes/, written by `npm run docs`): committed as generated
 * from the declared shapes, and they accept the declared detail and reject what it does not declare.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DetailTypes } from '../../lambdas/domain/contract';
import { OUTCOME_SHAPES } from '../../lambdas/domain/outcome-shapes';
import {
  JSON_SCHEMA_DRAFT_04,
  OUTCOME_SCHEMA_DIR,
  outcomeSchema,
} from '../../lambdas/domain/outcome-schemas';
import { generateOutcomeSchemaFiles } from '../../scripts/outcome-schemas';
import { checkingSchemas, schemaViolation } from '../support/outcome-schemas';
import type { OutcomeEvent, OutcomeListener } from '../../local/outcomes';

const ROOT = path.join(__dirname, '..', '..');

const replaced = {
  fleet: 'web',
  instanceId: 'i-0123456789abcdef0',
  cause: 'health',
  execution: 'web--i-0123456789abcdef0',
  eventId: 'e-1',
  reason: 'status check failed',
};
const event = (detailType: string, detail: Record<string, unknown>): OutcomeEvent => ({
  id: 'x',
  detailType,
  detail,
});

describe('schemas/outcomes/', () => {
  it('is what scripts/outcome-schemas.ts generates from the declared shapes', async () => {
    const expected = await generateOutcomeSchemaFiles(ROOT);
    const dir = path.join(ROOT, OUTCOME_SCHEMA_DIR);
    const committed = existsSync(dir) ? readdirSync(dir).map((f) => `${OUTCOME_SCHEMA_DIR}/${f}`) : [];
    expect(committed.sort()).toEqual(Object.keys(expected).sort());
    const stale = Object.entries(expected)
      .filter(([file, content]) => readFileSync(path.join(ROOT, file), 'utf8') !== content)
      .map(([file]) => file);
    if (stale.length > 0) expect.fail(`out of date (run npm run docs and commit): ${stale.join(', ')}`);
  });

  it('accepts a detail with its required and optional fields', () => {
    expect(schemaViolation(event(DetailTypes.InstanceReplaced, replaced))).toBeUndefined();
    expect(
      schemaViolation(event(DetailTypes.InstanceReplaced, { ...replaced, mode: 'surge', drain: {} })),
    ).toBeUndefined();
  });

  it('rejects a missing field, a field of the wrong type and an undeclared field', () => {
    const { reason: _reason, ...withoutReason } = replaced;
    expect(schemaViolation(event(DetailTypes.InstanceReplaced, withoutReason))).toMatch(
      /InstanceReplaced.*must have required property 'reason'/,
    );
    expect(schemaViolation(event(DetailTypes.InstanceReplaced, { ...replaced, mode: 1 }))).toMatch(
      /\/detail\/mode must be string/,
    );
    expect(schemaViolation(event(DetailTypes.InstanceReplaced, { ...replaced, extra: true }))).toMatch(
      /must NOT have additional properties.*extra/,
    );
    expect(schemaViolation(event('NoSuchOutcome', {}))).toMatch(/no schema for the outcome/);
  });

  it('uses only keywords draft-04 shares with draft-07 (the registry takes JSONSchemaDraft4)', () => {
    const keywords = new Set<string>();
    // The keywords of a schema node, and of the schemas under `properties` (not the field names).
    const walk = (schema: Record<string, unknown>) => {
      for (const [key, value] of Object.entries(schema)) {
        keywords.add(key);
        if (key === 'properties')
          Object.values(value as Record<string, Record<string, unknown>>).forEach(walk);
      }
    };
    for (const type of Object.values(DetailTypes).filter((t) => t in OUTCOME_SHAPES)) {
      walk(outcomeSchema(type as keyof typeof OUTCOME_SHAPES, JSON_SCHEMA_DRAFT_04));
    }
    const shared = ['$schema', 'title', 'description', 'type', 'required', 'properties', 'enum'];
    expect([...keywords].filter((k) => ![...shared, 'additionalProperties'].includes(k))).toEqual([]);
  });
});

describe('checkingSchemas', () => {
  const listener = (received: OutcomeEvent[]): OutcomeListener => ({
    received,
    waitFor: (predicate) => Promise.resolve(received.find(predicate)!),
    stop: () => Promise.resolve(),
  });

  it('fails a wait, and then the teardown, with the outcome and the schema error', async () => {
    const received = [event(DetailTypes.InstanceReplaced, replaced)];
    const checked = checkingSchemas(listener(received));
    await expect(checked.waitFor(() => true)).resolves.toEqual(received[0]);
    received.push(event(DetailTypes.InstanceReplaced, { ...replaced, cause: 3 }));
    await expect(checked.waitFor(() => true)).rejects.toThrow(/"cause":3.*\/detail\/cause must be string/);
    received.push(event(DetailTypes.DrainFailed, {}));
    await expect(checked.stop()).rejects.toThrow(/DrainFailed.*required property/);
  });
});
