/**
 * docs/alarms.md documents every alarm of the stack, and only those: each `AWS::CloudWatch::Alarm`
 * of the synthesized template, named by its construct id, is the first cell of a table row with a
 * meaning and a runbook step, and every alarm a row names is in the template.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CfnElement, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhoenixControlPlane } from '../../lib';
import { type SynthesizedPhoenix, synthPhoenix } from '../infra/support';

const DOC = path.join(__dirname, '..', '..', 'docs', 'alarms.md');

/** The alarms the page's tables name (first cell `` `<id>Alarm` ``), each with its other cells. */
function documentedAlarms(markdown: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of markdown.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    const id = /^`(\w+Alarm)`$/.exec(cells[1] ?? '')?.[1];
    if (id !== undefined) rows.set(id, cells.slice(2, -1));
  }
  return rows;
}

/**
 * An alarm's name in the page: the ids of its construct path below the control plane
 * (`Rollout` + `ExecutionsFailedAlarm`), as its logical id spells it.
 */
function alarmName(alarm: cloudwatch.CfnAlarm): string {
  const scopes = alarm.node.scopes.slice(0, -1); // without the `Resource`
  const controlPlane = scopes.findIndex((s) => s instanceof PhoenixControlPlane);
  return scopes
    .slice(controlPlane + 1)
    .map((s) => s.node.id)
    .join('');
}

let phoenix: SynthesizedPhoenix;
/** The template's alarms: construct id by logical id. */
let inTemplate: Map<string, string>;

beforeAll(() => {
  phoenix = synthPhoenix();
  const byLogicalId = new Map(
    phoenix.stack.node
      .findAll()
      .filter((c): c is cloudwatch.CfnAlarm => c instanceof cloudwatch.CfnAlarm)
      .map((c) => [Stack.of(c).resolve((c as CfnElement).logicalId) as string, alarmName(c)]),
  );
  const template = Object.entries(phoenix.resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
  inTemplate = new Map(template.map(([logicalId]) => [logicalId, byLogicalId.get(logicalId) ?? logicalId]));
});

describe('docs/alarms.md', () => {
  it('documents every alarm of the template with a meaning and a runbook step', () => {
    const documented = documentedAlarms(readFileSync(DOC, 'utf8'));
    const missing = [...inTemplate.values()].filter((id) => !documented.has(id));
    expect(missing, 'alarms of the template without a row in docs/alarms.md').toEqual([]);
    for (const id of inTemplate.values()) {
      const cells = documented.get(id) ?? [];
      expect(cells.length, id).toBeGreaterThanOrEqual(2);
      expect(
        cells.every((c) => c.length > 0),
        `${id}: every cell filled`,
      ).toBe(true);
    }
  });

  it('names no alarm the template does not have', () => {
    const ids = new Set(inTemplate.values());
    const stale = [...documentedAlarms(readFileSync(DOC, 'utf8')).keys()].filter((id) => !ids.has(id));
    expect(stale).toEqual([]);
  });

  it('has the alarms that page a human on the outcomes that need one', () => {
    expect([...inTemplate.values()]).toEqual(
      expect.arrayContaining([
        'RolloutFailedOutcomeAlarm',
        'ReplacementFailedOutcomeAlarm',
        'DrainFailedOutcomeAlarm',
      ]),
    );
  });
});
