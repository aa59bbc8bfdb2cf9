/**
 * The web view and `phoenix report` in a real browser: headless Chromium from the npm registry
 * (@sparticuz/chromium ships the binary; driven by puppeteer-core) loads the web view served on
 * loopback while a rolling rollout runs in the local runtime, and the report of a rolled-back
 * rollout afterwards. Screenshots go to test-results/screenshots/ (CI artefacts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import chromium from '@sparticuz/chromium';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetailTypes } from '../../lambdas/domain/contract';
import { buildReport, renderReport } from '../../cli/report';
import { startWebServer, type WebServer } from '../../local/web/server';
import { useLocalRuntime } from '../support/local-runtime';

const local = useLocalRuntime();
const RESULTS = path.resolve(__dirname, '../../test-results');
const SCREENSHOTS = path.join(RESULTS, 'screenshots');

let browser: Browser;
let web: WebServer;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  web = await startWebServer({
    stateMachineArn: local.runtime.resources.stateMachineArn!,
    timeScale: local.runtime.timeScale,
    outcomes: () => local.outcomes.received.map((e) => ({ detailType: e.detailType, detail: e.detail })),
  });
  browser = await puppeteer.launch({
    executablePath: await chromium.executablePath(),
    args: chromium.args,
    headless: true,
    defaultViewport: { width: 1280, height: 900 },
  });
});

afterAll(async () => {
  await browser?.close();
  await web?.close();
});

/** The next execution for `fleet` to end. */
/** Instances shown per image for `fleet` on the page, and the rollout line. */
async function shown(page: Page, fleet: string, images: readonly string[]) {
  return page.evaluate(
    (f: string, ids: readonly string[]) => {
      const document = (globalThis as unknown as { document: Dom }).document;
      const section = document.querySelector(`[data-fleet="${f}"]`);
      const counts = ids.map((id) => section?.querySelectorAll(`.inst[data-image="${id}"]`).length ?? 0);
      return {
        found: section !== null,
        counts,
        batch: section?.querySelector('.rollout .batch')?.textContent ?? null,
        gate: section?.querySelector('.rollout .gate')?.textContent ?? null,
      };
    },
    fleet,
    images,
  );
}

/** The little of the DOM the page functions use (the project compiles without the DOM library). */
interface Dom {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): Dom | null;
  querySelectorAll(selector: string): ArrayLike<Dom> & Iterable<Dom>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the web view during a rolling rollout', () => {
  it('shows instance counts per image change batch by batch, with batch N/M and the warm-up gate', async () => {
    const fleet = 'watched';
    const imageA = await local.world.registerImage(`${fleet}-a`, fleet);
    await local.world.createFleet({
      fleet,
      imageId: imageA,
      size: 3,
      // One new instance per batch and 6 s of warm-up each (600 s at the time scale 0.01): long
      // enough for the page (polling every second) to show each batch on a loaded machine.
      tags: { 'phoenix:max-surge': '1', 'phoenix:warmup-seconds': '600' },
    });
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    const page = await browser.newPage();
    await page.goto(web.url);
    // The page shows the fleet on its old image before anything is published.
    for (let i = 0; ; i += 1) {
      const s = await shown(page, fleet, [imageA, imageB]);
      if (s.found && s.counts[0] === 3) break;
      expect(i, 'the page never showed the fleet of 3').toBeLessThan(100);
      await sleep(100);
    }

    const ended = local.executionEnd(fleet);
    let done = false;
    void ended.finally(() => (done = true));
    await local.world.publishImage(local.busName, imageB);
    const seen: { a: number; b: number }[] = [];
    const batches = new Set<string>();
    const gates = new Set<string>();
    let midShot = false;
    // Watch until the execution has ended and the page shows the whole fleet on the new image.
    for (let i = 0; ; i += 1) {
      const s = await shown(page, fleet, [imageA, imageB]);
      const [a = 0, b = 0] = s.counts;
      const last = seen[seen.length - 1];
      if (last === undefined || last.a !== a || last.b !== b) seen.push({ a, b });
      if (s.batch !== null) batches.add(s.batch);
      if (s.gate !== null) gates.add(s.gate.replace(/, \d+ s left$/, ''));
      if (!midShot && b > 0 && a > 0) {
        midShot = true;
        await page.screenshot({ path: path.join(SCREENSHOTS, 'web-view-mid-rollout.png'), fullPage: true });
      }
      if (done && a === 0 && b === 3) break;
      expect(
        i,
        `the page never showed the fleet on the new image; seen ${JSON.stringify(seen)}`,
      ).toBeLessThan(600);
      await sleep(200);
    }
    expect((await ended).status).toBe('SUCCEEDED');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'web-view-after-rollout.png'), fullPage: true });

    // New instances only come, old ones only go, and the page showed the fleet between the two.
    expect(seen[0]).toEqual({ a: 3, b: 0 });
    expect(seen[seen.length - 1]).toEqual({ a: 0, b: 3 });
    for (let k = 1; k < seen.length; k += 1) {
      expect(seen[k]!.b).toBeGreaterThanOrEqual(seen[k - 1]!.b);
      expect(seen[k]!.a).toBeLessThanOrEqual(seen[k - 1]!.a);
    }
    const between = seen.filter((s) => s.b > 0 && s.b < 3);
    expect(between.length, `seen ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(2);
    expect(
      [...batches].every((t) => /^batch [1-3]\/3$/.test(t)),
      [...batches].join(', '),
    ).toBe(true);
    expect(batches.size).toBeGreaterThanOrEqual(2);
    expect(gates).toContain('gate warm-up');

    // The fleet's timeline and the outcome feed show the rollout's end.
    await page.waitForFunction(
      (f: string) => {
        const document = (globalThis as unknown as { document: Dom }).document;
        return (
          document.querySelector(`[data-fleet="${f}"] .timeline li[data-outcome="succeeded"]`) !== null &&
          document.querySelector(`.feed li[data-type="RolloutSucceeded"]`) !== null
        );
      },
      { timeout: 10_000 },
      fleet,
    );
    await page.close();
  });
});

describe('the report of a rolled-back rollout', () => {
  it('shows the rollback: the execution marked ROLLED BACK, a rollback mark, the new instances gone', async () => {
    const fleet = 'fallen';
    const alarm = 'fallen-5xx';
    await local.world.createAlarm(alarm);
    const imageA = await local.world.registerImage(`${fleet}-a`, fleet);
    const groupName = await local.world.createFleet({
      fleet,
      imageId: imageA,
      size: 2,
      tags: { 'phoenix:alarms': alarm, 'phoenix:max-surge': '1', 'phoenix:warmup-seconds': '300' },
    });
    const imageB = await local.world.registerImage(`${fleet}-b`, fleet);
    const ended = local.executionEnd(fleet);
    await local.world.publishImage(local.busName, imageB);
    for (let i = 0; ; i += 1) {
      const view = await local.world.viewFleet(groupName);
      if (view.instances.some((r) => r.imageId === imageB && r.lifecycleState === 'InService')) break;
      expect(i).toBeLessThan(400);
      await sleep(50);
    }
    await local.world.setAlarmState(alarm, 'ALARM');
    const execution = await ended;
    // A handled outcome: the execution SUCCEEDED, the outcome is in its output.
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output ?? '{}')).toMatchObject({ outcome: 'RolloutRolledBack' });
    await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.RolloutRolledBack && e.detail['fleet'] === fleet,
    );

    const model = await buildReport(fleet);
    const file = path.join(RESULTS, 'report-rolled-back.html');
    writeFileSync(file, renderReport(model));
    const page = await browser.newPage();
    await page.goto(pathToFileURL(file).href);
    const report = await page.evaluate((b: string) => {
      const document = (globalThis as unknown as { document: Dom }).document;
      const execution = document.querySelector('#timeline .execution[data-outcome="rolled-back"]');
      return {
        rolledBack: execution?.querySelector('.outcome')?.textContent ?? null,
        rollbackMarks: execution?.querySelectorAll('[data-mark="rollback"]').length ?? 0,
        batchMarks: execution?.querySelectorAll('[data-mark="batch"]').length ?? 0,
        gateMarks: execution?.querySelectorAll('[data-mark="gate"]').length ?? 0,
        newInstances: [...document.querySelectorAll(`#timeline .instance[data-image="${b}"]`)].map((g) =>
          g.getAttribute('data-state'),
        ),
        historyRolledBack: document.querySelectorAll('#history tr[data-outcome="rolled-back"]').length,
        external: [...document.querySelectorAll('script[src],link[href],img[src]')].length,
      };
    }, imageB);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'report-rolled-back.png'), fullPage: true });
    await page.close();

    expect(report.rolledBack).toBe('ROLLED BACK');
    expect(report.rollbackMarks).toBeGreaterThanOrEqual(1);
    expect(report.batchMarks).toBeGreaterThanOrEqual(1);
    expect(report.gateMarks).toBeGreaterThanOrEqual(1);
    // The instance of the new image was launched, then terminated by the rollback.
    expect(report.newInstances.length).toBeGreaterThanOrEqual(1);
    expect(report.newInstances.every((s) => s === 'terminated')).toBe(true);
    expect(report.historyRolledBack).toBe(1);
    expect(report.external).toBe(0);

    // The report of the execution alone names the same fleet and shows only that execution.
    const byExecution = await buildReport(execution.name);
    expect(byExecution.fleet).toBe(fleet);
    expect(byExecution.executions.map((e) => e.name)).toEqual([execution.name]);
  });
});
