// Small DOM helpers shared by every page: element building, tables, forms whose errors are shown in place,
// buttons that report their own failures, and time formatting. Nothing here writes inline styles or HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else if (value !== false && value != null) el.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// A table with a header row and one row per item; `cells` turns an item into its cells.
export function table(id, headers, items, cells) {
  return h('table', { id },
    h('thead', {}, h('tr', {}, headers.map((text) => h('th', { scope: 'col' }, text)))),
    h('tbody', {}, items.map((item) => h('tr', {}, cells(item).map((cell) => h('td', {}, cell))))));
}

export function time(ms) {
  return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—';
}

// The value of a datetime-local input read as UTC, in milliseconds since the epoch.
export function utcMillis(text) {
  return Date.parse(`${text}Z`);
}

export function errorBox(error) {
  const code = error.code ? ` (${error.code})` : '';
  return h('p', { class: 'error', role: 'alert' }, `${error.message}${code}`);
}

let toastTimer = null;
export function toast(text) {
  const el = document.getElementById('toast');
  el.textContent = text;
  el.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('show'), 3000);
}

// A labelled input (or textarea with `multiline`); returns [label, control].
export function field(label, name, attrs = {}) {
  const { multiline, hint, ...rest } = attrs;
  const id = `f-${name}`;
  const control = h(multiline ? 'textarea' : 'input', { id, name, ...rest, 'aria-describedby': hint ? `${id}-hint` : null });
  return [h('label', { for: id }, label), control, hint && h('p', { class: 'hint', id: `${id}-hint` }, hint)];
}

export function select(label, name, options) {
  const id = `f-${name}`;
  return [h('label', { for: id }, label),
    h('select', { id, name }, options.map(([value, text]) => h('option', { value }, text)))];
}

// A form whose submission runs `action(FormData)`; the button is disabled meanwhile and errors appear under it.
export function form(fields, label, action, { kind = '', id = null } = {}) {
  const status = h('div', { class: 'status' });
  const button = h('button', { type: 'submit', class: kind }, label);
  const el = h('form', {
    id,
    onsubmit: async (event) => {
      event.preventDefault();
      button.disabled = true;
      status.replaceChildren();
      try {
        await action(new FormData(el), el);
      } catch (error) {
        status.replaceChildren(errorBox(error));
      } finally {
        button.disabled = false;
      }
    },
  }, fields, h('div', { class: 'actions' }, button), status);
  return el;
}

// A button that runs `action` once per click and shows its error beside it.
export function actionButton(label, action, { kind = 'secondary', id = null } = {}) {
  const status = h('span', { class: 'status' });
  const button = h('button', {
    type: 'button', class: kind, id,
    onclick: async () => {
      button.disabled = true;
      status.replaceChildren();
      try {
        await action();
      } catch (error) {
        status.replaceChildren(errorBox(error));
      } finally {
        button.disabled = false;
      }
    },
  }, label);
  return h('span', { class: 'action' }, button, status);
}
