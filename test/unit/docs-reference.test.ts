import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OUTCOME_SHAPES, type OutcomeField } from '../../lambdas/domain/outcome-shapes';
import { generateReference, REFERENCE_PATH } from '../../scripts/docs-reference';

const ROOT = path.join(__dirname, '..', '..');
/** Generated once for the whole file: it parses every source and runs prettier. */
let generated: Promise<string> | undefined;
const reference = () => (generated ??= generateReference(ROOT));

/** README.md and every page under docs/. */
function pages(): string[] {
  const docs = path.join(ROOT, 'docs');
  return [
    path.join(ROOT, 'README.md'),
    ...readdirSync(docs)
      .filter((f) => f.endsWith('.md'))
      .map((f) => path.join(docs, f)),
  ];
}

/** GitHub's heading anchors of a markdown page. */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  const counts = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = /^#{1,6} (.*)$/.exec(line);
    if (fenced || heading?.[1] === undefined) continue;
    const slug = heading[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = counts.get(slug) ?? 0;
    counts.set(slug, n + 1);
    found.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return found;
}

/** Relative links `[text](target)` outside code (inline code and fenced blocks are skipped). */
function links(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1] ?? '')
    .filter((target) => !/^[a-z]+:/i.test(target));
}

describe('docs/reference.md', () => {
  it('is what scripts/docs-reference.ts generates from the code', async () => {
    const expected = await reference();
    const file = path.join(ROOT, REFERENCE_PATH);
    const actual = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (actual !== expected) {
      expect.fail(
        `${REFERENCE_PATH} is out of date with the code (tags, detail-types, event sources or props changed): run npm run docs and commit the result`,
      );
    }
  });

  describe('with declared outcome shapes', () => {
    it('documents each outcome detail from its interface, with the meanings of OUTCOME_SHAPES', async () => {
      const page = await reference();
      const section = (type: string) => {
        const start = page.indexOf(`#### ${type}\n`);
        expect(start, `no section for ${type}`).toBeGreaterThanOrEqual(0);
        const end = page.indexOf('\n#### ', start + 1);
        return page.slice(start, end === -1 ? undefined : end);
      };
      for (const [type, shape] of Object.entries(OUTCOME_SHAPES)) {
        const text = section(type);
        expect(text).toContain(shape.description);
        for (const [name, field] of Object.entries(shape.fields) as [string, OutcomeField][]) {
          const cell = field.optional ? `\`${name}?\`` : `\`${name}\``;
          expect(text, `${type}.${name}`).toContain(cell);
          expect(text, `${type}.${name}`).toContain(field.description.replace(/\|/g, '\\|'));
        }
      }
      expect(section('FleetResumed')).toContain('`pauseReason`');
      expect(page).toContain('[`RolloutStarted`](#rolloutstarted)');
    });
  });
});

describe('README.md and docs/', () => {
  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const page of pages()) {
      const text = readFileSync(page, 'utf8');
      for (const target of links(text)) {
        const [file = '', hash] = target.split('#');
        const resolved = file === '' ? page : path.resolve(path.dirname(page), decodeURI(file));
        if (!existsSync(resolved)) {
          broken.push(`${path.relative(ROOT, page)}: ${target} (no such file)`);
        } else if (hash !== undefined && resolved.endsWith('.md')) {
          if (!anchors(readFileSync(resolved, 'utf8')).has(hash)) {
            broken.push(`${path.relative(ROOT, page)}: ${target} (no such heading)`);
          }
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('rejects references to documentation outside the repository', () => {
    const outside = pages().filter((page) => /DESIGN\.md|\.\.\/shared\//.test(readFileSync(page, 'utf8')));
    expect(outside.map((p) => path.relative(ROOT, p))).toEqual([]);
  });

  it('keeps the README short', () => {
    const lines = readFileSync(path.join(ROOT, 'README.md'), 'utf8').trimEnd().split('\n').length;
    expect(lines).toBeLessThanOrEqual(160);
  });
});
