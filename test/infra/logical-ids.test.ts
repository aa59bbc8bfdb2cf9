/**
 * A deployed Phoenix stack must update in place: CloudFormation replaces a resource whose logical
 * id or type changes, and CDK derives the logical id from the construct path. This test compares
 * every resource of the synthesized `PhoenixStack` (logical id → type) with the committed list
 * `logical-ids.json`, so that a rename or a move to another construct cannot slip through.
 *
 * Changing the list on purpose: edit `test/infra/logical-ids.json` (or run this file with
 * `PHOENIX_UPDATE_LOGICAL_IDS=1 npx vitest run test/infra/logical-ids.test.ts`, which rewrites it
 * from the template), and say in the same commit, per resource, why the change is safe. Outputs
 * are not resources and are not listed. A stateful resource (the table, the bus, a queue, a log
 * group, a state machine) must never change its id without a migration documented in docs/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthPhoenix, type SynthesizedPhoenix } from './support';

const LIST = path.join(__dirname, 'logical-ids.json');

let phoenix: SynthesizedPhoenix;

beforeAll(() => {
  phoenix = synthPhoenix();
});
afterAll(() => phoenix.dispose());

function synthesizedIds(): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const id of Object.keys(phoenix.resources).sort()) ids[id] = phoenix.resources[id]!.Type;
  return ids;
}

/** What changed between the committed list and the template, one line per resource. */
function differences(committed: Record<string, string>, actual: Record<string, string>): string[] {
  const lines: string[] = [];
  for (const [id, type] of Object.entries(committed)) {
    const now = actual[id];
    if (now === undefined) lines.push(`  removed: ${id} (${type})`);
    else if (now !== type) lines.push(`  changed: ${id}: ${type} -> ${now}`);
  }
  for (const [id, type] of Object.entries(actual)) {
    if (committed[id] === undefined) lines.push(`  added:   ${id} (${type})`);
  }
  return lines;
}

describe('logical ids', () => {
  it('keeps every resource logical id and type of the committed list', () => {
    const actual = synthesizedIds();
    if (process.env.PHOENIX_UPDATE_LOGICAL_IDS === '1') {
      fs.writeFileSync(LIST, `${JSON.stringify(actual, null, 2)}\n`);
    }
    const committed = JSON.parse(fs.readFileSync(LIST, 'utf8')) as Record<string, string>;
    const lines = differences(committed, actual);
    expect(
      lines,
      [
        'The synthesized template no longer matches test/infra/logical-ids.json:',
        ...lines,
        'A deployed stack would replace these resources (a removed id is deleted, an added one created).',
        'A stateful resource (table, bus, queues, log groups, state machines) must never change its id',
        'without a migration documented in docs/. If the change is intended, update the list (see the',
        'note at the top of this file) and say why in the same commit.',
      ].join('\n'),
    ).toEqual([]);
  });

  it('lists the resources sorted by logical id', () => {
    const committed = Object.keys(JSON.parse(fs.readFileSync(LIST, 'utf8')) as Record<string, string>);
    expect(committed).toEqual([...committed].sort());
  });
});
