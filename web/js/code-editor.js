// <code-editor>: a textarea laid over its own highlighted copy (rhai), with
// line numbers and an error mark at a line. Light enough to need no library;
// it keeps the browser's own editing (undo, IME for Chinese, selection).
const KEYWORDS = new Set(['let', 'const', 'if', 'else', 'fn', 'return', 'true', 'false', 'in', 'for', 'while', 'loop', 'break', 'continue', 'switch', 'do', 'until', 'throw', 'try', 'catch', 'this']);

function escape(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Highlighted HTML of rhai source, one `<span>` per token kind. */
export function highlight(src) {
  const re = /(\/\/[^\n]*|\/\*[\s\S]*?\*\/)|("(?:[^"\\\n]|\\.)*"?|`[^`]*`?)|(\b\d[\d_]*(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)(\s*\()?/g;
  let out = '';
  let last = 0;
  for (const m of src.matchAll(re)) {
    out += escape(src.slice(last, m.index));
    if (m[1]) out += `<span class="c">${escape(m[1])}</span>`;
    else if (m[2]) out += `<span class="s">${escape(m[2])}</span>`;
    else if (m[3]) out += `<span class="n">${m[3]}</span>`;
    else if (KEYWORDS.has(m[4])) out += `<span class="k">${m[4]}</span>${m[5] ? escape(m[5]) : ''}`;
    else if (m[5]) out += `<span class="f">${m[4]}</span>${escape(m[5])}`;
    else out += escape(m[4]);
    last = m.index + m[0].length;
  }
  return out + escape(src.slice(last)) + '\n';
}

class CodeEditor extends HTMLElement {
  connectedCallback() {
    if (this.ta) return;
    this.innerHTML = '<div class="ce"><div class="gutter"></div><pre aria-hidden="true"></pre><textarea spellcheck="false" autocapitalize="off" autocomplete="off"></textarea></div>';
    this.ta = this.querySelector('textarea');
    this.pre = this.querySelector('pre');
    this.gutter = this.querySelector('.gutter');
    this.ta.setAttribute('aria-label', this.getAttribute('label') || 'script');
    this.ta.value = this._value ?? '';
    this.ta.addEventListener('input', () => { this.errorLine = null; this.paint(); this.dispatchEvent(new Event('change', { bubbles: true })); });
    // The element says `change` on every edit; the textarea's own change (on blur) would say it twice,
    // and a listener that redraws would then swap the page under a click.
    this.ta.addEventListener('change', (e) => e.stopPropagation());
    this.ta.addEventListener('keydown', (e) => {
      if (e.key === 'Tab' && !e.shiftKey) {
        e.preventDefault();
        const { selectionStart: a, selectionEnd: b } = this.ta;
        this.ta.setRangeText('    ', a, b, 'end');
        this.ta.dispatchEvent(new Event('input'));
      }
    });
    this.paint();
  }

  get value() { return this.ta ? this.ta.value : this._value ?? ''; }
  set value(v) { this._value = v; if (this.ta) { this.ta.value = v; this.paint(); } }

  /** Marks `line` (1-based) as where the problem is; `null` clears it. */
  setError(line) { this.errorLine = line; this.paint(); }

  paint() {
    const src = this.ta.value;
    const lines = src.split('\n').length;
    this.pre.innerHTML = highlight(src);
    this.gutter.innerHTML = Array.from({ length: lines }, (_, i) => `<div class="${this.errorLine === i + 1 ? 'bad' : ''}">${i + 1}</div>`).join('');
    this.ta.style.height = `${this.pre.scrollHeight}px`;
  }
}

customElements.define('code-editor', CodeEditor);
