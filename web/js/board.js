// A workflow as a board (看板): a column per state with its count, the
// records you may read as cards. A card dragged to another column takes the
// transition between the two states (its guard decides; a refused drop snaps
// back with the reason); the same move is offered by a menu on each card
// for keyboards and phones. Into a final state (成交, 输单) asks first.
import { t } from './i18n.js';
import { get, post } from './api.js';
import { el, confirmAction, toast, clearToast } from './dom.js';
import { display, segmentTitle, segmentValue, asText, plain } from './format.js';
import { personEl } from './people.js';

/** The transition from `from` to `to`, if the workflow has one (a specific `from` before "any non-final"). */
export function moveBetween(board, from, to) {
  const fin = board.columns.find((c) => c.key === from)?.final;
  return board.transitions.find((x) => x.to === to && x.from.includes(from)) || board.transitions.find((x) => x.to === to && !x.from.length && !fin);
}

export async function boardView(main, formKey, workflow, params = new URLSearchParams()) {
  const [f, board, flows] = await Promise.all([get(`/api/v1/forms/${formKey}`), get(`/api/v1/workflows/${workflow}/board${params.get('mine') === '1' ? `?filter=${encodeURIComponent(JSON.stringify({ owner: { _in: [window.trellisMe?.id, window.trellisMe?.email] } }))}` : ''}`), get(`/api/v1/forms/${formKey}/workflows`)]);
  const def = f.definition;
  const status = el('div', { role: 'status', id: 'board-status' });
  const money = Object.entries(def.schema.properties).find(([, p]) => p.format === 'money')?.[0];
  const firstSeg = Object.keys(def.segments || {}).find((k) => def.segments[k].kind === 'label');
  const columns = new Map();

  const refuse = (card, why) => {
    clearToast();
    status.className = 'notice error';
    status.textContent = why;
    card.dataset.refused = why;
    card.classList.add('refused');
    setTimeout(() => card.classList.remove('refused'), 1500);
  };

  /** Takes the move of `card` to column `to`; back where it was, with the reason, when it is refused. */
  async function moveTo(card, to) {
    const from = card.dataset.state;
    if (from === to) return;
    const tr = moveBetween(board, from, to);
    const title = (k) => board.columns.find((c) => c.key === k)?.title || k;
    if (!tr) { refuse(card, t('noMove', { a: title(from), b: title(to) })); return; }
    if (board.columns.find((c) => c.key === to)?.final && !(await confirmAction(t('confirmTransition', { t: tr.title || tr.key, s: title(to) }), { ok: tr.title || tr.key }))) return;
    const home = card.parentElement;
    const next = card.nextSibling;
    columns.get(to).list.prepend(card);
    card.classList.add('pending');
    try {
      const inst = await post(`/api/v1/instances/${card.dataset.instance}/transitions/${tr.key}`);
      card.classList.remove('pending');
      status.className = ''; status.textContent = '';
      // Automatic transitions may carry it further: it lands where the instance says.
      card.dataset.state = inst.status === 'active' ? inst.state : to;
      if (inst.status === 'active' && inst.state !== to && columns.get(inst.state)) columns.get(inst.state).list.prepend(card);
      if (inst.status !== 'active') card.classList.add('ended');
      fillMenu(card.querySelector('select.move'), inst.status === 'active' ? card.dataset.state : '');
      recount();
      toast(t('moved', { x: card.dataset.title, s: title(card.dataset.state) }));
    } catch (err) {
      card.classList.remove('pending');
      home.insertBefore(card, next);
      refuse(card, err.message);
    }
  }

  function recount() {
    for (const c of columns.values()) c.count.textContent = String(c.list.querySelectorAll('.bcard').length);
  }

  function startDrag(e, card) {
    if (e.button !== 0 || e.target.closest('a, select, button')) return;
    const start = { x: e.clientX, y: e.clientY };
    let ghost = null;
    const over = (x, y) => document.elementFromPoint(x, y)?.closest('.bcol');
    const move = (ev) => {
      if (!ghost) {
        if (Math.hypot(ev.clientX - start.x, ev.clientY - start.y) < 5) return;
        ghost = el('div', { class: 'ghost' }, card.dataset.title);
        document.body.append(ghost);
        card.style.opacity = '.4';
      }
      ghost.style.left = `${ev.clientX + 8}px`;
      ghost.style.top = `${ev.clientY + 8}px`;
      document.querySelectorAll('.bcol.over').forEach((c) => c.classList.remove('over'));
      over(ev.clientX, ev.clientY)?.classList.add('over');
    };
    const end = (ev, drop) => {
      document.removeEventListener('pointermove', move);
      document.removeEventListener('pointerup', up);
      document.removeEventListener('pointercancel', cancel);
      document.querySelectorAll('.bcol.over').forEach((c) => c.classList.remove('over'));
      card.style.opacity = '';
      if (!ghost) return;
      ghost.remove();
      const col = drop ? over(ev.clientX, ev.clientY) : null;
      if (col) moveTo(card, col.dataset.state);
    };
    const up = (ev) => end(ev, true);
    const cancel = (ev) => end(ev, false);
    document.addEventListener('pointermove', move);
    document.addEventListener('pointerup', up);
    document.addEventListener('pointercancel', cancel);
    e.preventDefault();
  }

  /** The columns a card in `state` can move to, as its menu's choices. */
  const fillMenu = (menu, state) => menu.replaceChildren(el('option', { value: '' }, `${t('moveTo', { x: '' })}…`),
    ...board.columns.filter((s) => s.key !== state && moveBetween(board, state, s.key)).map((s) => el('option', { value: s.key }, s.title || s.key)));

  const cardOf = (c) => {
    const r = c.record;
    const title = asText(plain(r.data[def.title_field] ?? r.data.name ?? def.title));
    const menu = el('select', { class: 'move', 'aria-label': t('moveTo', { x: title }), 'data-move': r.id });
    fillMenu(menu, c.state);
    const card = el('div', { class: 'bcard', 'data-record': r.id, 'data-instance': c.instance, 'data-state': c.state, 'data-title': title },
      el('a', { href: `#/forms/${formKey}/records/${r.id}`, class: 'btitle' }, title),
      el('div', { class: 'bmeta' }, r.data.owner ? personEl(r.data.owner) : null, money && r.data[money] !== undefined ? el('span', {}, display(def, money, r.data[money])) : null),
      firstSeg && r.segments[firstSeg] !== undefined && r.segments[firstSeg] !== null ? el('span', { class: 'tag', title: segmentTitle(def, firstSeg) }, segmentValue(def, firstSeg, r.segments[firstSeg])) : null,
      menu);
    menu.addEventListener('change', () => { const to = menu.value; menu.value = ''; moveTo(card, to); });
    card.addEventListener('pointerdown', (e) => startDrag(e, card));
    return card;
  };

  const lanes = el('div', { class: 'board', id: 'board' }, board.columns.map((s) => {
    const list = el('div', { class: 'blist' });
    const count = el('span', { class: 'count' }, '0');
    columns.set(s.key, { list, count });
    return el('section', { class: `bcol${s.final ? ' final' : ''}`, 'data-state': s.key, 'aria-label': s.title || s.key }, el('header', {}, el('span', {}, s.title || s.key), count), list);
  }));
  for (const c of board.cards) columns.get(c.state)?.list.append(cardOf(c));
  recount();

  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, `${def.title || formKey} · ${board.title || workflow}`), el('div', { class: 'muted' }, t('boardHelp'))),
    el('div', { class: 'actions' }, viewSwitch(formKey, flows.items, `board:${workflow}`),
      def.schema.properties.owner?.format === 'user' ? el('a', { class: `btn${params.get('mine') === '1' ? ' primary' : ''}`, href: `#/forms/${formKey}/board/${workflow}${params.get('mine') === '1' ? '' : '?mine=1'}` }, t('onlyMine')) : null)),
  status, ...(board.truncated ? [el('div', { class: 'notice' }, t('boardTruncated', { n: board.cards.length }))] : []), lanes);
}

/** 列表 · 看板 · 日历: the ways to look at a form's records. */
export function viewSwitch(formKey, flows, on) {
  const link = (href, label, key) => el('a', { class: `btn${on === key ? ' primary' : ''}`, href, 'data-view': key, 'aria-current': on === key ? 'page' : undefined }, label);
  return el('div', { class: 'views', role: 'group', 'aria-label': t('views') }, link(`#/forms/${formKey}/records`, t('listView'), 'list'),
    flows.map((w) => link(`#/forms/${formKey}/board/${w.key}`, `${t('boardView')}·${w.title || w.key}`, `board:${w.key}`)),
    link(`#/forms/${formKey}/calendar`, t('calendarView'), 'calendar'));
}
