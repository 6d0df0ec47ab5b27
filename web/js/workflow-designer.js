// The workflow designer: the diagram is the editor. States are boxes laid out
// left to right by how they are reached; a transition is drawn by dragging
// from a state's handle onto another state; clicking a state or an arrow
// opens it in the side panel (its title, actions, timers, guard and
// automatic condition, with the builders). Labels are placed so they
// overlap neither each other nor the boxes. Publishing goes through the API,
// whose problems open the state or transition they point to.
import { t } from './i18n.js';
import { api, get, post } from './api.js';
import { el, svg, confirmAction, showProblems } from './dom.js';
import { catalogOf, allForms, conditionInput, ready } from './builders.js';
import { actionList, actionContext, durationInput, pickLists } from './actions.js';
import { roleTitle } from './people.js';

const W = 128; const H = 40; const GX = 86; const GY = 46; const PAD = 24;
const ANY = '*';

const fromList = (tr) => (Array.isArray(tr.from) ? tr.from : [tr.from]);

/** Columns by the order states are reached from the initial one; each state's box. */
export function layout(def) {
  const keys = Object.keys(def.states || {});
  const depth = new Map();
  const queue = keys.includes(def.initial) ? [def.initial] : keys.slice(0, 1);
  if (queue.length) depth.set(queue[0], 0);
  while (queue.length) {
    const k = queue.shift();
    for (const tr of def.transitions || []) {
      const from = fromList(tr);
      if (from.includes(k) && keys.includes(tr.to) && !depth.has(tr.to)) { depth.set(tr.to, depth.get(k) + 1); queue.push(tr.to); }
    }
  }
  // States only reached from "any state" go one column after the deepest; the rest after that.
  const deepest = Math.max(0, ...depth.values());
  for (const tr of def.transitions || []) if (fromList(tr).includes(ANY) && keys.includes(tr.to) && !depth.has(tr.to)) depth.set(tr.to, deepest + 1);
  for (const k of keys) if (!depth.has(k)) depth.set(k, deepest + 2);
  const cols = new Map();
  for (const k of keys) { const d = depth.get(k); cols.set(d, [...(cols.get(d) || []), k]); }
  const colIndex = [...cols.keys()].sort((a, b) => a - b);
  // Long pipelines wrap: four columns a band, bands top to bottom, so the boxes stay readable.
  const PER_BAND = 4;
  const pos = {};
  let bandTop = PAD + 34;
  for (let band = 0; band * PER_BAND < colIndex.length; band++) {
    const inBand = colIndex.slice(band * PER_BAND, (band + 1) * PER_BAND);
    inBand.forEach((d, ci) => cols.get(d).forEach((k, ri) => { pos[k] = { x: PAD + ci * (W + GX), y: bandTop + ri * (H + GY), band }; }));
    bandTop += Math.max(...inBand.map((d) => cols.get(d).length)) * (H + GY) + 30;
  }
  const width = PAD * 2 + Math.min(PER_BAND, colIndex.length) * (W + GX) - GX;
  return { pos, width: Math.max(width, 320), height: bandTop + PAD };
}

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** A point of the quadratic curve p0 → p2 bent through c at t. */
const q = (p0, c, p2, s) => ({ x: (1 - s) ** 2 * p0.x + 2 * (1 - s) * s * c.x + s ** 2 * p2.x, y: (1 - s) ** 2 * p0.y + 2 * (1 - s) * s * c.y + s ** 2 * p2.y });

/**
 * The diagram, with the interactions: `on.select(kind, key|index)`,
 * `on.connect(from, to)`. `selected` is [kind, id] of what the panel shows.
 */
export function drawDiagram(def, selected, on) {
  const { pos, width, height } = layout(def);
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', class: 'wf-diagram wf-editor', role: 'group', 'aria-label': def.title || def.key });
  root.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#64748b' })),
    svg('marker', { id: 'arrow-on', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#2563eb' }))));
  const edges = svg('g', { class: 'wf-edges' });
  const labels = svg('g', { class: 'wf-labels' });
  const nodes = svg('g', { class: 'wf-nodes' });
  root.append(edges, nodes, labels);
  // Boxes labels must keep clear of: every state, and the "any state" pill.
  const taken = Object.values(pos).map((p) => ({ x: p.x - 4, y: p.y - 4, w: W + 8, h: H + 8 }));
  const anyPill = { x: PAD, y: 6, w: 92, h: 22 };
  taken.push(anyPill);
  const pairCount = new Map();
  (def.transitions || []).forEach((tr, n) => {
    const on_ = selected?.[0] === 'transition' && selected[1] === n;
    const froms = fromList(tr);
    for (const f of froms) {
      const b = pos[tr.to];
      const a = f === ANY ? anyPill : pos[f];
      if (!a || !b) continue;
      const pair = `${f}>${tr.to}`;
      const nth = pairCount.get(pair) || 0;
      pairCount.set(pair, nth + 1);
      let p0; let p2; let c;
      const forward = b.x > a.x && b.band === a.band;
      const down = f !== ANY && b.band > a.band;
      if (f === ANY) {
        p0 = { x: anyPill.x + anyPill.w, y: anyPill.y + 11 }; p2 = { x: b.x + W / 2, y: b.y }; c = { x: p2.x, y: p0.y };
      } else if (f === tr.to) {
        p0 = { x: a.x + W * 0.7, y: a.y }; p2 = { x: a.x + W * 0.3, y: a.y }; c = { x: a.x + W / 2, y: a.y - 44 - nth * 14 };
      } else if (down) {
        // To a later band: from the bottom of one box to the top of the other.
        p0 = { x: a.x + W / 2, y: a.y + H }; p2 = { x: b.x + W / 2, y: b.y }; c = { x: (p0.x + p2.x) / 2 + nth * 24, y: (p0.y + p2.y) / 2 };
      } else if (forward) {
        p0 = { x: a.x + W, y: a.y + H / 2 }; p2 = { x: b.x, y: b.y + H / 2 };
        const bend = nth * 26 * (nth % 2 ? 1 : -1);
        c = { x: (p0.x + p2.x) / 2, y: (p0.y + p2.y) / 2 + bend };
      } else {
        // Back or within a column: below the boxes.
        p0 = { x: a.x + W / 2, y: a.y + H }; p2 = { x: b.x + W / 2, y: b.y + H }; c = { x: (p0.x + p2.x) / 2, y: Math.max(p0.y, p2.y) + 40 + nth * 16 };
      }
      const path = svg('path', { d: `M${p0.x},${p0.y} Q${c.x},${c.y} ${p2.x},${p2.y}`, class: `wf-edge${on_ ? ' on' : ''}`, fill: 'none', stroke: on_ ? '#2563eb' : tr.when ? '#94a3b8' : '#64748b', 'stroke-width': on_ ? 2.2 : 1.3, 'stroke-dasharray': tr.when || f === ANY ? '5 4' : '', 'marker-end': on_ ? 'url(#arrow-on)' : 'url(#arrow)', 'data-edge': n });
      // A wide invisible stroke makes the arrow easy to click.
      const hit = svg('path', { d: path.getAttribute('d'), fill: 'none', stroke: 'transparent', 'stroke-width': 12, class: 'wf-hit', 'data-edge-hit': n });
      hit.addEventListener('click', () => on.select('transition', n));
      edges.append(path, hit);
      if (froms.indexOf(f) > 0) continue;
      // The label where it overlaps nothing: along the curve first, then nudged down.
      const text = `${tr.title || tr.key}${tr.guard ? ' ◇' : ''}${tr.when ? ' ⚡' : ''}`;
      const w = Math.max(28, [...text].reduce((s, ch) => s + (ch.charCodeAt(0) > 255 ? 11 : 6.2), 0) + 10); const h = 17;
      let box = null;
      for (const s of [0.5, 0.38, 0.62, 0.28, 0.72]) {
        const m = q(p0, c, p2, s);
        for (const dy of [0, 12, -12, 24, -24, 36, -36]) {
          const cand = { x: m.x - w / 2, y: m.y - h / 2 + dy, w, h };
          if (!taken.some((o) => overlaps(o, cand))) { box = cand; break; }
        }
        if (box) break;
      }
      if (!box) { const m = q(p0, c, p2, 0.5); box = { x: m.x - w / 2, y: m.y - h / 2, w, h }; }
      taken.push(box);
      const g = svg('g', { class: `wf-label${on_ ? ' on' : ''}`, 'data-transition': tr.key, tabindex: '0', role: 'button', 'aria-label': `${t('transition')} ${tr.title || tr.key}` },
        svg('rect', { x: box.x, y: box.y, width: box.w, height: box.h, rx: 4, fill: on_ ? '#e8efff' : '#fff', stroke: on_ ? '#2563eb' : '#e3e6eb' }));
      const label = svg('text', { x: box.x + box.w / 2, y: box.y + 12.5, 'text-anchor': 'middle', 'font-size': '11', fill: '#334155' });
      label.textContent = text;
      g.append(label);
      g.addEventListener('click', () => on.select('transition', n));
      g.addEventListener('keydown', (e) => { if (e.key === 'Enter') on.select('transition', n); });
      labels.append(g);
    }
  });
  if ((def.transitions || []).some((tr) => fromList(tr).includes(ANY))) {
    const pill = svg('g', { class: 'wf-any' }, svg('rect', { x: anyPill.x, y: anyPill.y, width: anyPill.w, height: anyPill.h, rx: 11, fill: '#f1f5f9', stroke: '#cbd5e1', 'stroke-dasharray': '3 3' }));
    const tx = svg('text', { x: anyPill.x + anyPill.w / 2, y: anyPill.y + 15, 'text-anchor': 'middle', 'font-size': '11', fill: '#475569' });
    tx.textContent = t('anyState');
    pill.append(tx);
    nodes.append(pill);
  }
  for (const [k, p] of Object.entries(pos)) {
    const s = def.states[k] || {};
    const initial = k === def.initial;
    const on_ = selected?.[0] === 'state' && selected[1] === k;
    const g = svg('g', { class: `wf-node${on_ ? ' on' : ''}`, 'data-node': k, tabindex: '0', role: 'button', 'aria-label': `${t('state')} ${s.title || k}` });
    g.append(svg('rect', { x: p.x, y: p.y, width: W, height: H, rx: s.final ? 20 : 8, fill: initial ? '#e8efff' : s.final ? '#e7f6ec' : '#fff', stroke: on_ ? '#2563eb' : initial ? '#2563eb' : s.final ? '#15803d' : '#94a3b8', 'stroke-width': on_ ? 2.6 : s.final ? 2 : 1.2, 'data-state': k }));
    const label = svg('text', { x: p.x + W / 2, y: p.y + H / 2 + 4, 'text-anchor': 'middle', 'font-size': '13', fill: '#1f2430' });
    label.textContent = `${s.title || k}${(s.timers || []).length ? ' ◷' : ''}`;
    g.append(label);
    g.addEventListener('click', () => on.select('state', k));
    g.addEventListener('keydown', (e) => { if (e.key === 'Enter') on.select('state', k); });
    nodes.append(g);
    if (!s.final) {
      // The handle a transition is dragged from.
      const handle = svg('circle', { cx: p.x + W, cy: p.y + H / 2, r: 7, class: 'wf-handle', 'data-handle': k, fill: '#fff', stroke: '#2563eb', 'stroke-width': 1.5 });
      const title = svg('title', {});
      title.textContent = t('dragToConnect');
      handle.append(title);
      handle.addEventListener('pointerdown', (e) => startDrag(e, k));
      nodes.append(handle);
    }
  }

  function startDrag(e, from) {
    e.preventDefault(); e.stopPropagation();
    const pt = (ev) => { const m = root.getScreenCTM().inverse(); const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m); return { x: p.x, y: p.y }; };
    const a = pos[from];
    const line = svg('line', { x1: a.x + W, y1: a.y + H / 2, x2: a.x + W, y2: a.y + H / 2, stroke: '#2563eb', 'stroke-width': 1.6, 'stroke-dasharray': '4 3', 'marker-end': 'url(#arrow-on)', class: 'wf-drag' });
    root.append(line);
    const move = (ev) => { const p = pt(ev); line.setAttribute('x2', p.x); line.setAttribute('y2', p.y); };
    const up = (ev) => {
      window.removeEventListener('pointermove', move); window.removeEventListener('pointerup', up);
      line.remove();
      const target = document.elementsFromPoint(ev.clientX, ev.clientY).map((x) => x.closest?.('[data-node]')).find(Boolean);
      if (target) on.connect(from, target.dataset.node);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  }
  return root;
}

/** A key not yet taken: `base`, `base_2`, … */
function freshKey(base, taken) {
  let k = base; let n = 2;
  while (taken.has(k)) k = `${base}_${n++}`;
  return k;
}

export async function workflowView(main, key, params) {
  const isNew = params.get('new') === '1';
  const defs = await allForms();
  await ready();
  const lists = await pickLists();
  const roleKeys = lists.roles;
  const forms = Object.keys(defs);
  let def;
  if (isNew) def = { key, form: forms[0] || '', title: key, start: { on: 'manual' }, initial: 'open', states: { open: { title: t('stateOpen') }, done: { title: t('stateDone'), final: true } }, transitions: [{ key: 'finish', title: t('stateDone'), from: 'open', to: 'done' }] };
  else def = (await get(`/api/v1/workflows/${key}`)).definition;
  let fresh = isNew;
  let selected = null;
  const status = el('div', { role: 'status' });
  const picture = el('div', { class: 'card wf-canvas' });
  const panel = el('div', { class: 'card wf-panel', 'aria-live': 'polite' });
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, def.title || key), el('div', { class: 'muted' }, `${t('workflows')} · ${key}`)),
    el('div', { class: 'actions' }, el('a', { class: 'btn', href: '#/workflows' }, t('workflows')),
      el('button', { class: 'primary', id: 'publish-workflow', onclick: publish }, t('publish')))),
  status, el('div', { class: 'wf-grid' }, picture, panel));

  const ctx = () => actionContext({ form: def.form, forms: defs, ...lists, workflow: def.key, site: 'workflow' });
  const catalog = () => (defs[def.form] ? catalogOf(defs[def.form], { forms: defs }) : []);
  const stateTitle = (k) => (k === ANY ? t('anyState') : def.states[k]?.title || k);

  function select(kind, id) { selected = kind ? [kind, id] : null; redraw(); drawPanel(); }
  function redraw() {
    picture.replaceChildren(
      el('div', { class: 'wf-tools' },
        el('button', { class: 'small', id: 'add-state', onclick: addState }, `+ ${t('addState')}`),
        el('button', { class: 'small', id: 'workflow-settings', onclick: () => select(null) }, t('workflowSettings')),
        el('span', { class: 'muted', style: 'font-size:12px' }, t('diagramHelp'))),
      drawDiagram(def, selected, { select, connect }));
  }

  function addState() {
    const k = freshKey('state', new Set(Object.keys(def.states)));
    def.states[k] = { title: t('newState') };
    select('state', k);
    panel.querySelector('input[name=state-title]')?.select();
  }

  function connect(from, to) {
    const taken = new Set(def.transitions.map((x) => x.key));
    const k = freshKey(`to_${to}`, taken);
    def.transitions.push({ key: k, title: def.states[to]?.title || to, from, to });
    select('transition', def.transitions.length - 1);
  }

  const field = (label, input, help) => el('div', { class: 'ab-field' }, el('label', {}, label), input, help ? el('div', { class: 'field-help' }, help) : null);
  const text = (obj, k, pointer, attrs = {}, after = () => {}) => {
    const i = el('input', { value: obj[k] ?? '', 'data-pointer': pointer, ...attrs });
    i.addEventListener('input', () => { if (i.value === '') delete obj[k]; else obj[k] = i.value; after(); });
    return i;
  };

  function drawPanel() {
    panel.innerHTML = '';
    if (!selected) return drawSettings();
    if (selected[0] === 'state') return drawState(selected[1]);
    return drawTransition(selected[1]);
  }

  function drawSettings() {
    const formSel = el('select', { 'data-pointer': '/form', name: 'form' }, forms.map((f) => el('option', { value: f, selected: f === def.form }, defs[f]?.title || f)));
    formSel.addEventListener('change', () => { def.form = formSel.value; drawPanel(); });
    const startSel = el('select', { 'data-pointer': '/start/on', name: 'start-on' }, ['created', 'condition', 'manual'].map((o) => el('option', { value: o, selected: (def.start?.on || 'manual') === o }, t(`start_${o}`))));
    startSel.addEventListener('change', () => { def.start = { ...(def.start || {}), on: startSel.value }; });
    const initial = el('select', { 'data-pointer': '/initial', name: 'initial' }, Object.keys(def.states).map((s) => el('option', { value: s, selected: s === def.initial }, stateTitle(s))));
    initial.addEventListener('change', () => { def.initial = initial.value; redraw(); });
    panel.append(el('h2', {}, t('workflowSettings')),
      field(t('label'), text(def, 'title', '/title', { name: 'title' }, () => { main.querySelector('h1').textContent = def.title || key; })),
      field(t('forms'), formSel), field(t('start'), startSel),
      field(t('startCondition'), conditionInput({ value: def.start?.condition, catalog: catalog(), label: 'start condition', pointer: '/start/condition', onChange: (src) => { def.start = { ...(def.start || {}), condition: src || undefined }; } })),
      field(t('initial'), initial));
  }

  function drawState(k) {
    const st = def.states[k];
    if (!st) return select(null);
    const p = `/states/${k}`;
    const fin = el('input', { type: 'checkbox', checked: !!st.final, name: 'state-final' });
    fin.addEventListener('change', () => { if (fin.checked) st.final = true; else delete st.final; redraw(); });
    const keyInput = el('input', { value: k, name: 'state-key', pattern: '[a-z][a-z0-9_]*', 'data-pointer': p });
    keyInput.addEventListener('change', () => {
      const nk = keyInput.value.trim();
      if (!/^[a-z][a-z0-9_]*$/.test(nk) || (nk !== k && def.states[nk])) { keyInput.setCustomValidity('a–z, 0–9, _'); keyInput.reportValidity(); return; }
      keyInput.setCustomValidity('');
      if (nk === k) return;
      def.states = Object.fromEntries(Object.entries(def.states).map(([a, b]) => [a === k ? nk : a, b]));
      for (const tr of def.transitions) { tr.from = Array.isArray(tr.from) ? tr.from.map((x) => (x === k ? nk : x)) : tr.from === k ? nk : tr.from; if (tr.to === k) tr.to = nk; }
      if (def.initial === k) def.initial = nk;
      select('state', nk);
    });
    const timers = el('div', { class: 'wf-timers' });
    const drawTimers = () => {
      timers.replaceChildren(...(st.timers || []).map((tm, i) => el('div', { class: 'ab-card', 'data-timer': i },
        el('div', { class: 'sb-rule-head' }, el('strong', {}, `${t('timer')} ${i + 1}`),
          el('button', { class: 'small plain', style: 'margin-left:auto', 'aria-label': t('removeItem'), onclick: () => { st.timers.splice(i, 1); if (!st.timers.length) delete st.timers; drawTimers(); redraw(); } }, '×')),
        el('div', { class: 'cb-head' }, t('timerAfter'), durationInput(tm.after, (v) => { if (v) tm.after = v; else delete tm.after; }, `timer-${i}-after`, `${p}/timers/${i}/after`),
          t('timerEvery'), durationInput(tm.every, (v) => { if (v) tm.every = v; else delete tm.every; }, `timer-${i}-every`, `${p}/timers/${i}/every`), el('span', { class: 'muted' }, t('timerEveryHelp'))),
        field(t('label'), text(tm, 'title', `${p}/timers/${i}/title`, { name: `timer-${i}-title`, placeholder: t('timerTitleExample') })),
        field(t('actions'), actionList(tm, 'actions', ctx(), { pointer: `${p}/timers/${i}/actions`, label: `timer-${k}-${i}` })))));
    };
    drawTimers();
    panel.append(el('h2', {}, `${t('state')} · ${st.title || k}`),
      el('div', { class: 'row3' }, field(t('label'), text(st, 'title', `${p}/title`, { name: 'state-title' }, redraw)), field(t('key'), keyInput),
        el('label', { class: 'check', style: 'margin-top:24px' }, fin, t('final'))),
      field(t('onEnter'), actionList(st, 'on_enter', ctx(), { pointer: `${p}/on_enter`, label: `enter-${k}` })),
      field(t('onExit'), actionList(st, 'on_exit', ctx(), { pointer: `${p}/on_exit`, label: `exit-${k}` })),
      el('h3', {}, t('timers')), timers,
      el('div', { class: 'actions', style: 'margin-top:8px' },
        el('button', { class: 'small', id: 'add-timer', onclick: () => { st.timers = [...(st.timers || []), { after: '24h', actions: [] }]; drawTimers(); redraw(); } }, `+ ${t('timer')}`),
        el('button', { class: 'small danger', style: 'margin-left:auto', id: 'remove-state', onclick: async () => {
          const used = def.transitions.filter((tr) => tr.to === k || fromList(tr).includes(k)).length;
          if (!(await confirmAction(t('confirmRemoveState', { x: st.title || k, n: used }), { ok: t('removeItem') }))) return;
          delete def.states[k];
          def.transitions = def.transitions.filter((tr) => tr.to !== k).map((tr) => (Array.isArray(tr.from) ? { ...tr, from: tr.from.filter((x) => x !== k) } : tr)).filter((tr) => fromList(tr).length && tr.from !== k);
          if (def.initial === k) def.initial = Object.keys(def.states)[0];
          select(null);
        } }, t('removeState'))));
  }

  function drawTransition(n) {
    const tr = def.transitions[n];
    if (!tr) return select(null);
    const p = `/transitions/${n}`;
    const keys = Object.keys(def.states);
    const froms = new Set(fromList(tr));
    const fromBox = el('div', { class: 'cb-chips', role: 'group', 'aria-label': t('from'), 'data-pointer': `${p}/from` }, [ANY, ...keys].map((s) => {
      const c = el('input', { type: 'checkbox', value: s, checked: froms.has(s), name: 'from' });
      c.addEventListener('change', () => {
        if (c.checked) froms.add(s); else froms.delete(s);
        if (s === ANY && c.checked) { froms.clear(); froms.add(ANY); }
        else froms.delete(s === ANY ? '' : ANY);
        const list = [...froms];
        tr.from = list.length === 1 ? list[0] : list;
        drawPanel(); redraw();
      });
      return el('label', { class: 'chip' }, c, stateTitle(s));
    }));
    const toSel = el('select', { 'data-pointer': `${p}/to`, name: 'to' }, keys.map((s) => el('option', { value: s, selected: tr.to === s }, stateTitle(s))));
    toSel.addEventListener('change', () => { tr.to = toSel.value; redraw(); });
    const roleBox = el('div', { class: 'cb-chips', role: 'group', 'aria-label': t('whoMayMove') }, roleKeys.map((r) => {
      const c = el('input', { type: 'checkbox', value: r, checked: (tr.roles || []).includes(r) });
      c.addEventListener('change', () => { const set = new Set(tr.roles || []); if (c.checked) set.add(r); else set.delete(r); tr.roles = [...set]; if (!tr.roles.length) delete tr.roles; });
      return el('label', { class: 'chip' }, c, roleTitle(r));
    }));
    panel.append(el('h2', {}, `${t('transition')} · ${tr.title || tr.key}`),
      el('div', { class: 'row3' }, field(t('label'), text(tr, 'title', `${p}/title`, { name: 'transition-title' }, redraw)), field(t('key'), text(tr, 'key', `${p}/key`, { name: 'transition-key' }, redraw)), field(t('to'), toSel)),
      field(t('from'), fromBox),
      field(t('guard'), conditionInput({ value: tr.guard, catalog: catalog(), label: 'guard', pointer: `${p}/guard`, emptyText: t('noGuard'), onChange: (src) => { if (src) tr.guard = src; else delete tr.guard; redraw(); } })),
      field(t('guardMessage'), text(tr, 'message', `${p}/message`, { name: 'guard-message', placeholder: t('guardMessageExample') })),
      field(t('whenAuto'), conditionInput({ value: tr.when, catalog: catalog(), label: 'when', pointer: `${p}/when`, emptyText: t('noAuto'), onChange: (src) => { if (src) tr.when = src; else delete tr.when; redraw(); } })),
      roleKeys.length ? field(t('whoMayMove'), roleBox, t('whoMayMoveHelp')) : null,
      field(t('actions'), actionList(tr, 'actions', ctx(), { pointer: `${p}/actions`, label: `transition-${n}` })),
      el('div', { class: 'actions', style: 'margin-top:8px' }, el('button', { class: 'small danger', style: 'margin-left:auto', id: 'remove-transition', onclick: async () => {
        if (!(await confirmAction(t('confirmRemoveTransition', { x: tr.title || tr.key }), { ok: t('removeItem') }))) return;
        def.transitions.splice(n, 1);
        select(null);
      } }, t('removeTransition'))));
  }

  /** Opens what the server's first problem points to, then shows every problem of the panel at its input. */
  function openProblem(err) {
    const first = (err.errors || [])[0]?.pointer || '';
    const st = /^\/states\/([^/]+)/.exec(first);
    const tr = /^\/transitions\/(\d+)/.exec(first);
    if (st && def.states[st[1]]) select('state', st[1]);
    else if (tr && def.transitions[Number(tr[1])]) select('transition', Number(tr[1]));
    else select(null);
    showProblems(panel, status, err);
  }

  async function publish() {
    status.className = ''; status.textContent = '';
    try {
      const saved = fresh ? await post('/api/v1/workflows', def) : await api('PUT', `/api/v1/workflows/${key}`, def);
      fresh = false;
      panel.querySelectorAll('.inline-error').forEach((x) => x.remove());
      panel.querySelectorAll('.bad-input').forEach((x) => x.classList.remove('bad-input'));
      status.className = 'notice ok'; status.textContent = t('published', { v: saved.version });
    } catch (err) { openProblem(err); }
  }

  redraw();
  drawPanel();
}
