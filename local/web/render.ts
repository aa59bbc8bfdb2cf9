/**
 * HTML for the web view (`phoenix local`'s page and its live fragment) and for `phoenix report`
 * (a self-contained timeline page). Pure: models in, strings out; every text from the state goes
 * through `escapeHtml`. No external assets: the CSS and the page's script are inline.
 */
import { markOf, type ExecutionTimeline, type RolloutProgress } from './execution';

// ---- shared ------------------------------------------------------------------------------------

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text or an attribute value, safe inside HTML. */
export function escapeHtml(value: string | number | boolean | null | undefined): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f',
  '#d62728',
  '#393b79',
  '#637939',
];

/** A colour per image, the same in every view and report (a hash of the image id). */
export function imageColour(imageId: string | null): string {
  if (imageId === null) return '#cccccc';
  let h = 0;
  for (const c of imageId) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1rem 2rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin:.2rem 0}
.fleet{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}
.meta{color:#555}.legend span{margin-right:1rem;white-space:nowrap}
.swatch{display:inline-block;width:.9rem;height:.9rem;border-radius:2px;vertical-align:middle;margin-right:.3rem}
.inst{display:inline-block;width:1.4rem;height:1.4rem;margin:2px;border-radius:3px}
.inst.pending{opacity:.45}
.rollout{background:#fff8e1;border-left:4px solid #f9a825;padding:.3rem .6rem;margin:.4rem 0}
.rollout.rollback{background:#ffebee;border-color:#c62828}
.replacement{background:#e3f2fd;border-left:4px solid #1565c0;padding:.2rem .6rem;margin:.2rem 0}
ol.timeline,ol.feed{list-style:none;padding:0;margin:.3rem 0}
ol.timeline li,ol.feed li{padding:1px 0;font-family:ui-monospace,monospace;font-size:12px}
.o-succeeded{color:#2e7d32}.o-rolled-back,.o-failed{color:#c62828}.o-rejected{color:#ef6c00}
.o-superseded,.o-paused{color:#6a1b9a}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
svg text{font:11px ui-monospace,monospace}
`;

const time = (iso: string | undefined | null) => (iso ? iso.replace(/\.\d+Z$/, 'Z').replace('T', ' ') : '');

function legend(images: readonly { imageId: string | null; count?: number; note?: string }[]): string {
  return `<div class="legend">${images
    .map(
      (i) =>
        `<span data-legend="${escapeHtml(i.imageId ?? 'unknown')}"><i class="swatch" style="background:${imageColour(i.imageId)}"></i>${escapeHtml(i.imageId ?? '(unknown image)')}${i.count !== undefined ? ` ×${i.count}` : ''}${i.note !== undefined ? ` ${escapeHtml(i.note)}` : ''}</span>`,
    )
    .join('')}</div>`;
}

// ---- the web view ------------------------------------------------------------------------------

export interface WebImageCount {
  readonly imageId: string | null;
  readonly count: number;
  readonly inService: number;
}

export interface WebRollout {
  readonly execution: string;
  readonly imageId: string;
  readonly startedAt: string;
  readonly status: string | null;
  readonly progress: RolloutProgress | null;
  readonly note?: string;
}

export interface WebHistoryItem {
  readonly at: string;
  readonly kind: 'rollout' | 'rollback' | 'replacement';
  readonly imageId?: string;
  readonly instanceId?: string;
  readonly outcome: string;
  readonly execution?: string;
  readonly reason?: string | null;
}

export interface WebFleet {
  readonly fleet: string;
  readonly channel: string | null;
  readonly desiredImage: string | null;
  readonly paused: boolean;
  readonly pinnedImage: string | null;
  readonly groups: readonly {
    readonly name: string;
    readonly desiredCapacity: number;
    readonly byImage: readonly WebImageCount[];
  }[];
  readonly rollout: WebRollout | null;
  readonly replacements: readonly {
    readonly instanceId: string;
    readonly execution: string;
    readonly since: string;
  }[];
  /** Newest first. */
  readonly timeline: readonly WebHistoryItem[];
}

export interface FeedItem {
  /** ISO-8601: when the runtime received it. */
  readonly at?: string;
  readonly detailType: string;
  readonly detail: Record<string, unknown>;
}

/** The promotion pipeline (`phoenix channels`' model, cli/channels.ts): channels upstream first. */
export interface WebPipeline {
  readonly channels: readonly {
    readonly channel: string;
    readonly upstream?: string;
    readonly image?: string;
    /** What its promotion stands at, in words (cli/channels.ts promotionText). */
    readonly promotion: string;
    readonly state: 'waiting' | 'blocked' | 'idle';
  }[];
  readonly quarantined: readonly { readonly imageId: string; readonly reason: string }[];
}

export interface WebState {
  /** ISO-8601. */
  readonly at: string;
  readonly fleets: readonly WebFleet[];
  /** The promotion pipeline, when some channel has a promotion rule. */
  readonly pipeline?: WebPipeline;
  /** Newest first. */
  readonly outcomes: readonly FeedItem[];
  /** Why the state is incomplete (a reader failed). */
  readonly error?: string;
}

function countdown(endsAt: string | undefined, now: string): string {
  if (endsAt === undefined) return '';
  const left = Math.max(0, Math.ceil((Date.parse(endsAt) - Date.parse(now)) / 1000));
  return `, ${left} s left`;
}

function rolloutHtml(r: WebRollout, now: string): string {
  const p = r.progress;
  const parts = [
    `rolling out <b>${escapeHtml(r.imageId)}</b>`,
    p?.batch !== undefined ? `<span class="batch">batch ${p.batch.n}/${p.batch.of}</span>` : '',
    p?.gate !== undefined
      ? `<span class="gate">gate ${escapeHtml(p.gate.kind)}${countdown(p.gate.endsAt, now)}</span>`
      : '',
    p?.rollingBack === true ? '<b class="o-rolled-back">rolling back</b>' : '',
    `step ${escapeHtml(p?.step ?? 'unknown')}`,
    `${escapeHtml(r.status ?? 'status unknown')}`,
    `execution ${escapeHtml(r.execution)} since ${escapeHtml(time(r.startedAt))}`,
    r.note !== undefined ? `(${escapeHtml(r.note)})` : '',
  ].filter((s) => s !== '');
  return `<div class="rollout${p?.rollingBack === true ? ' rollback' : ''}" data-execution="${escapeHtml(r.execution)}">${parts.join(' · ')}</div>`;
}

function fleetHtml(f: WebFleet, now: string): string {
  const totals = new Map<string | null, number>();
  for (const g of f.groups)
    for (const c of g.byImage) totals.set(c.imageId, (totals.get(c.imageId) ?? 0) + c.count);
  const images = [...totals].map(([imageId, count]) => ({
    imageId,
    count,
    ...(imageId !== null && imageId === f.desiredImage ? { note: '(desired)' } : {}),
    ...(imageId !== null && imageId === f.rollout?.imageId ? { note: '(rolling out)' } : {}),
  }));
  const groups = f.groups
    .map(
      (g) =>
        `<div class="group" data-group="${escapeHtml(g.name)}"><span class="meta">${escapeHtml(g.name)} (desired ${g.desiredCapacity})</span><br>${g.byImage
          .flatMap((c) =>
            Array.from(
              { length: c.count },
              (_, i) =>
                `<span class="inst${i >= c.inService ? ' pending' : ''}" data-image="${escapeHtml(c.imageId ?? 'unknown')}" title="${escapeHtml(c.imageId ?? 'unknown image')}${i >= c.inService ? ' (not InService)' : ''}" style="background:${imageColour(c.imageId)}"></span>`,
            ),
          )
          .join('')}</div>`,
    )
    .join('');
  const replacements = f.replacements
    .map(
      (r) =>
        `<div class="replacement" data-instance="${escapeHtml(r.instanceId)}">replacing ${escapeHtml(r.instanceId)} · execution ${escapeHtml(r.execution)} since ${escapeHtml(time(r.since))}</div>`,
    )
    .join('');
  const timeline = f.timeline
    .map(
      (h) =>
        `<li class="o-${escapeHtml(h.outcome)}" data-kind="${h.kind}" data-outcome="${escapeHtml(h.outcome)}">${escapeHtml(time(h.at))} ${h.kind} ${escapeHtml(h.imageId ?? h.instanceId ?? '')} ${escapeHtml(h.outcome)}${h.reason ? ` — ${escapeHtml(h.reason)}` : ''}</li>`,
    )
    .join('');
  const held = [
    f.paused ? '<b>PAUSED</b>' : '',
    f.pinnedImage !== null ? `<b>PINNED</b> to ${escapeHtml(f.pinnedImage)}` : '',
  ].filter((s) => s !== '');
  return `<section class="fleet" data-fleet="${escapeHtml(f.fleet)}">
<h2>${escapeHtml(f.fleet)}</h2>
<div class="meta">channel ${escapeHtml(f.channel ?? '-')} · desired image ${escapeHtml(f.desiredImage ?? 'unknown')}${held.length > 0 ? ` · ${held.join(' · ')}` : ''}</div>
${legend(images)}${groups}${f.rollout !== null ? rolloutHtml(f.rollout, now) : ''}${replacements}
<details open><summary>Timeline (${f.timeline.length})</summary><ol class="timeline">${timeline}</ol></details>
</section>`;
}

function feedLine(item: FeedItem): string {
  const d = item.detail;
  const what = ['fleet', 'imageId', 'instanceId', 'reason']
    .map((k) => d[k])
    .filter((v) => typeof v === 'string' && v !== '')
    .join(' ');
  return `<li data-type="${escapeHtml(item.detailType)}">${escapeHtml(time(item.at))} <b>${escapeHtml(item.detailType)}</b> ${escapeHtml(what)}</li>`;
}

/** The pipeline: each channel (upstream first) with its image and the image waiting to enter it. */
export function pipelineHtml(p: WebPipeline): string {
  const stage = (c: WebPipeline['channels'][number]) =>
    `<div class="stage" style="display:inline-block;vertical-align:top;border:1px solid #ccc;border-radius:4px;padding:4px 8px;margin:2px" data-channel="${escapeHtml(c.channel)}" data-state="${c.state}"><b>${escapeHtml(c.channel)}</b>${c.upstream !== undefined ? ` <span class="meta">from ${escapeHtml(c.upstream)}</span>` : ''}<br><i class="swatch" style="background:${imageColour(c.image ?? null)}"></i>${escapeHtml(c.image ?? '(no image)')}<br><span class="${c.state === 'blocked' ? 'o-failed' : 'meta'}">${escapeHtml(c.promotion)}</span></div>`;
  const quarantined =
    p.quarantined.length === 0
      ? ''
      : `<p class="o-failed">quarantined: ${p.quarantined.map((q) => `${escapeHtml(q.imageId)} (${escapeHtml(q.reason)})`).join(', ')}</p>`;
  return `<section class="pipeline"><h2>Pipeline</h2><div class="stages">${p.channels.map(stage).join(' <span class="arrow">→</span> ')}</div>${quarantined}</section>`;
}

/** The live part of the page (what `/api/state` carries as `html`). */
export function renderState(state: WebState): string {
  const fleets =
    state.fleets.length === 0
      ? '<p class="meta">No managed fleets yet (no Auto Scaling group is tagged phoenix:fleet).</p>'
      : state.fleets.map((f) => fleetHtml(f, state.at)).join('');
  return `${state.error !== undefined ? `<p class="o-failed">${escapeHtml(state.error)}</p>` : ''}<p class="meta" id="updated">updated ${escapeHtml(time(state.at))}</p>
${state.pipeline !== undefined ? pipelineHtml(state.pipeline) : ''}${fleets}
<section class="outcomes"><h2>Outcomes (${state.outcomes.length})</h2><ol class="feed">${state.outcomes.map(feedLine).join('')}</ol></section>`;
}

/** The page: a shell that polls `/api/state` every second and shows its `html`. */
export function renderPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Phoenix local</title>
<style>${STYLE}</style></head><body><h1>Phoenix — local runtime</h1><main id="app"><p class="meta">loading…</p></main>
<script>
(function(){
  var app=document.getElementById('app');
  function tick(){
    fetch('/api/state',{cache:'no-store'}).then(function(r){return r.json();}).then(function(s){
      app.innerHTML=s.html; document.body.dataset.polls=String(Number(document.body.dataset.polls||0)+1);
    }).catch(function(e){app.dataset.error=String(e);}).finally(function(){setTimeout(tick,1000);});
  }
  tick();
})();
</script></body></html>`;
}

// ---- the report --------------------------------------------------------------------------------

export interface ReportInstance {
  readonly instanceId: string;
  readonly imageId: string | null;
  /** ISO-8601. */
  readonly launchedAt?: string;
  /** ISO-8601: when it was terminated (EC2's state transition), absent while it runs. */
  readonly endedAt?: string;
  /** EC2 state, or the group's lifecycle state. */
  readonly state: string;
}

export interface ReportModel {
  readonly fleet: string;
  /** ISO-8601. */
  readonly generatedAt: string;
  readonly desiredImage: string | null;
  readonly instances: readonly ReportInstance[];
  /** Oldest first. */
  readonly executions: readonly ExecutionTimeline[];
  /** Newest first. */
  readonly history: readonly WebHistoryItem[];
  /** Readers that failed, said plainly. */
  readonly notes: readonly string[];
}

/** An execution's outcome word: `rolled-back` for `RolloutRolledBack`, else the status. */
export function executionOutcome(e: ExecutionTimeline): string {
  // A handled outcome ends the execution SUCCEEDED with it in the output; RolloutFailed fails it.
  const ended = e.outcome ?? e.error;
  if (ended === 'RolloutRolledBack') return 'rolled-back';
  if (ended === 'RolloutRejected') return 'rejected';
  if (ended === 'RolloutSuperseded') return 'superseded';
  if (ended === 'RolloutPaused') return 'paused';
  return e.status.toLowerCase();
}

const MARK_COLOUR = { batch: '#1565c0', gate: '#f9a825', rollback: '#c62828', step: '#999' } as const;

/** The report page: instances × time, coloured by image; executions with batches, gates and rollbacks. */
export function renderReport(m: ReportModel): string {
  const at = (iso: string | undefined) => (iso !== undefined ? Date.parse(iso) : NaN);
  const times = [
    ...m.instances.flatMap((i) => [at(i.launchedAt), at(i.endedAt)]),
    ...m.executions.flatMap((e) => [at(e.startedAt), at(e.endedAt)]),
  ].filter((t) => Number.isFinite(t));
  const end = Math.max(at(m.generatedAt), ...times);
  const execStarts = m.executions.map((e) => at(e.startedAt)).filter((t) => Number.isFinite(t));
  // Start a little before the first execution (instances launched long before are cut at the edge).
  const first = execStarts.length > 0 ? Math.min(...execStarts) : Math.min(end, ...times);
  const start = first - Math.max(1000, (end - first) * 0.05);
  const span = Math.max(1, end - start);
  const left = 170;
  const width = 900;
  const rowH = 16;
  const x = (t: number) => left + ((Math.min(Math.max(t, start), end) - start) / span) * width;
  const execH = 22;
  const top = 20 + m.executions.length * (execH + 4);
  const height = top + m.instances.length * rowH + 30;
  const parts: string[] = [];
  // The time axis.
  for (let k = 0; k <= 4; k += 1) {
    const t = start + (span * k) / 4;
    parts.push(
      `<line x1="${x(t)}" y1="12" x2="${x(t)}" y2="${height - 16}" stroke="#eee"/><text x="${x(t) - 30}" y="${height - 4}">${escapeHtml(new Date(t).toISOString().slice(11, 19))}</text>`,
    );
  }
  m.executions.forEach((e, i) => {
    const y = 16 + i * (execH + 4);
    const outcome = executionOutcome(e);
    const from = x(at(e.startedAt));
    const to = x(Number.isFinite(at(e.endedAt)) ? at(e.endedAt) : end);
    const fill = outcome === 'rolled-back' ? '#ffcdd2' : outcome === 'succeeded' ? '#c8e6c9' : '#fff3e0';
    const image = (e.input as { imageId?: unknown } | undefined)?.imageId;
    parts.push(
      `<g class="execution" data-execution="${escapeHtml(e.name)}" data-outcome="${escapeHtml(outcome)}"><rect x="${from}" y="${y}" width="${Math.max(2, to - from)}" height="${execH}" fill="${fill}" stroke="#999"><title>${escapeHtml(`${e.name}: ${outcome}${e.cause !== undefined ? ` (${e.cause})` : ''}`)}</title></rect>` +
        `<text x="4" y="${y + 15}">${escapeHtml(typeof image === 'string' ? image : e.name.slice(0, 24))}</text>` +
        `<text x="${from + 4}" y="${y + 15}" class="outcome">${escapeHtml(outcome === 'rolled-back' ? 'ROLLED BACK' : outcome)}</text>`,
    );
    for (const v of e.visits) {
      const kind = markOf(v.name);
      if (kind === 'step') continue;
      const vx = x(at(v.enteredAt));
      parts.push(
        `<line class="mark mark-${kind}" data-mark="${kind}" x1="${vx}" y1="${y}" x2="${vx}" y2="${height - 16}" stroke="${MARK_COLOUR[kind]}" stroke-dasharray="${kind === 'rollback' ? '0' : '3,3'}"><title>${escapeHtml(`${v.name} ${time(v.enteredAt)}`)}</title></line>`,
      );
    }
    parts.push('</g>');
  });
  m.instances.forEach((inst, i) => {
    const y = top + i * rowH;
    const from = x(Number.isFinite(at(inst.launchedAt)) ? at(inst.launchedAt) : start);
    const to = x(Number.isFinite(at(inst.endedAt)) ? at(inst.endedAt) : end);
    parts.push(
      `<g class="instance" data-instance="${escapeHtml(inst.instanceId)}" data-image="${escapeHtml(inst.imageId ?? 'unknown')}" data-state="${escapeHtml(inst.state)}"><text x="4" y="${y + 12}">${escapeHtml(inst.instanceId)}</text><rect x="${from}" y="${y + 2}" width="${Math.max(2, to - from)}" height="${rowH - 4}" fill="${imageColour(inst.imageId)}"${inst.endedAt !== undefined ? ' fill-opacity="0.55"' : ''}><title>${escapeHtml(`${inst.instanceId} ${inst.imageId ?? ''} ${inst.state} ${time(inst.launchedAt)} → ${time(inst.endedAt) || 'now'}`)}</title></rect></g>`,
    );
  });
  const images = [...new Set(m.instances.map((i) => i.imageId))].map((imageId) => ({
    imageId,
    count: m.instances.filter((i) => i.imageId === imageId).length,
    ...(imageId !== null && imageId === m.desiredImage ? { note: '(desired)' } : {}),
  }));
  const rows = m.history
    .map(
      (h) =>
        `<tr class="o-${escapeHtml(h.outcome)}" data-outcome="${escapeHtml(h.outcome)}"><td>${escapeHtml(time(h.at))}</td><td>${h.kind}</td><td>${escapeHtml(h.imageId ?? h.instanceId ?? '')}</td><td>${escapeHtml(h.outcome)}</td><td>${escapeHtml(h.execution ?? '')}</td><td>${escapeHtml(h.reason ?? '')}</td></tr>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Phoenix report: ${escapeHtml(m.fleet)}</title><style>${STYLE}</style></head><body>
<h1>Fleet ${escapeHtml(m.fleet)}</h1>
<p class="meta">generated ${escapeHtml(time(m.generatedAt))} · desired image ${escapeHtml(m.desiredImage ?? 'unknown')} · ${m.instances.length} instances · ${m.executions.length} executions</p>
${m.notes.map((n) => `<p class="o-failed">${escapeHtml(n)}</p>`).join('')}
${legend(images)}
<p class="meta"><i class="swatch" style="background:${MARK_COLOUR.batch}"></i>batch <i class="swatch" style="background:${MARK_COLOUR.gate}"></i>gate (warm-up, bake, alarm check) <i class="swatch" style="background:${MARK_COLOUR.rollback}"></i>rollback</p>
<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${left + width + 20}" height="${height}">${parts.join('')}</svg>
<h2>History</h2><table id="history"><tr><th>time</th><th>kind</th><th>image / instance</th><th>outcome</th><th>execution</th><th>reason</th></tr>${rows}</table>
</body></html>`;
}
