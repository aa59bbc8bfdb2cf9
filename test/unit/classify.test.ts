import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyFiles } from '../../local/classify';
import { FIXTURES } from '../support/fixtures';

const fixture = (source: string, variant: string) => path.join(FIXTURES, source, `${variant}.json`);

function run(files: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = classifyFiles(
    files,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { status, out: out.map((l) => JSON.parse(l) as Record<string, unknown>), err };
}

describe('phoenix events classify', () => {
  it('prints one object per file, in order, in the documented shapes, each naming its file', () => {
    const files = [
      fixture('aws.imagebuilder', 'image-state-change-available'),
      fixture('aws.ec2', 'spot-interruption-warning'),
      fixture('aws.autoscaling', 'launch-successful'),
      fixture('aws.ssm', 'parameter-store-change-create'),
    ];
    const { status, out, err } = run(files);
    expect(status).toBe(0);
    expect(err).toEqual([]);
    expect(out).toHaveLength(4);
    expect(out.map((o) => o['file'])).toEqual(files);
    expect(out[0]).toEqual({
      file: files[0],
      intent: 'rollout',
      image: { imageBuilderArn: expect.stringMatching(/^arn:aws:imagebuilder:/) },
      reason: expect.any(String),
    });
    expect(out[1]).toEqual({
      file: files[1],
      intent: 'replace',
      cause: 'interruption',
      instanceIds: ['i-1234567890abcdef0'],
      reason: expect.any(String),
    });
    expect(out[2]).toEqual({
      file: files[2],
      intent: 'ignore',
      reason: expect.stringContaining('Auto Scaling'),
    });
    expect(out[3]).toEqual({
      file: files[3],
      intent: 'rollout',
      image: { parameterName: 'MyGoldenAMI' },
      reason: expect.any(String),
    });
  });

  it('fails with status 2 for a file that is not JSON or not an event, and still classifies the others', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'classify-'));
    const notJson = path.join(dir, 'notes.txt');
    const notEvent = path.join(dir, 'config.json');
    writeFileSync(notJson, 'hello');
    writeFileSync(notEvent, JSON.stringify({ name: 'x' }));
    const { status, out, err } = run([notJson, fixture('aws.ec2', 'spot-interruption-warning'), notEvent]);
    expect(status).toBe(2);
    expect(out).toHaveLength(1);
    expect(err).toHaveLength(2);
    expect(err[0]).toContain('notes.txt: not a JSON file');
    expect(err[1]).toContain(
      'config.json: not an EventBridge event: missing or invalid id, source, detail-type, detail',
    );
  });

  it('runs as a command with that exit status', () => {
    const cli = path.resolve(__dirname, '..', '..', 'bin', 'phoenix.js');
    const ok = spawnSync(
      process.execPath,
      [cli, 'events', 'classify', fixture('aws.ssm', 'cloudtrail-start-session')],
      { encoding: 'utf8' },
    );
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      intent: 'replace',
      cause: 'shell-access',
      instanceIds: ['i-023ad911b5d49dece'],
    });
    const bad = spawnSync(
      process.execPath,
      [cli, 'events', 'classify', path.resolve(__dirname, '..', '..', 'README.md')],
      {
        encoding: 'utf8',
      },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('not a JSON file');
  });
});
