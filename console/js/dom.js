// Building the DOM without markup strings: every value from the API (a contact's name, a campaign's
// subject, an error message) becomes a text node. Nothing here assigns innerHTML, and the page's
// Content-Security-Policy (Trusted Types) would refuse it if anything did.

let counter = 0;
export const uid = (prefix = "id") => `${prefix}-${++counter}`;

const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "multiple", "indeterminate"]);

/** h("a", {href: "#/lists", class: "button"}, "Lists", ...): an element; strings become text. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

/** An SVG element (charts). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** Hidden from sight, read by screen readers (context for a short visible text such as "Copy"). */
export const sr = (text) => h("span", { class: "sr-only" }, text);

/** A labelled input: {wrap, input}. The label is visible; a hint is tied to the field. */
export function field({ label, type = "text", name, value = "", required = false, hint, autocomplete,
                        placeholder, multiline = false, rows = 6, attrs = {} }) {
  const id = uid(name || "field");
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = `${id}-error`;
  const input = multiline
    ? h("textarea", { id, name, rows, required, autocomplete, placeholder, "aria-describedby": hintId, ...attrs })
    : h("input", { id, name, type, required, autocomplete, placeholder, "aria-describedby": hintId, ...attrs });
  input.value = value ?? "";
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const wrap = h("div", { class: "field" },
    h("div", { class: "label-row" }, h("label", { for: id }, label),
      required ? null : h("span", { class: "optional" }, "optional")),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    input, error);
  return {
    wrap, input,
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
      if (message) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
      } else {
        input.removeAttribute("aria-invalid");
        if (hintId) input.setAttribute("aria-describedby", hintId); else input.removeAttribute("aria-describedby");
      }
    },
  };
}

/** A labelled <select>: options [{value, label}]; {wrap, input, setError} like field(). */
export function selectField({ label, name, options, value = "", hint, required = true }) {
  const made = field({ label, name, hint, required });
  const input = h("select", { id: made.input.id, name, "aria-describedby": made.input.getAttribute("aria-describedby") },
    options.map((o) => h("option", { value: o.value, selected: o.value === value }, o.label)));
  made.input.replaceWith(input);
  const setError = (message) => {
    made.setError(message);
    for (const attr of ["aria-invalid", "aria-describedby"]) {
      const v = made.input.getAttribute(attr);
      if (v === null) input.removeAttribute(attr); else input.setAttribute(attr, v);
    }
  };
  return { wrap: made.wrap, input, setError };
}

export function checkbox({ label, checked = false, name, hint }) {
  const id = uid(name || "check");
  const input = h("input", { id, name, type: "checkbox", checked });
  return { wrap: h("div", { class: "check" }, input, h("label", { for: id }, label),
                   hint ? h("span", { class: "hint" }, ` ${hint}`) : null), input };
}

export function button(text, onclick, { kind = "secondary", type = "button", attrs = {} } = {}) {
  return h("button", { type, class: `button ${kind}`, onclick, ...attrs }, text);
}

export function link(text, href, { kind } = {}) {
  return h("a", { href, class: kind ? `button ${kind}` : undefined }, text);
}

/** An error (role=alert) or a notice (role=status). */
export function notice(kind, ...children) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

export function badge(status) {
  return h("span", { class: `badge badge-${String(status).replace(/[^a-z_]/g, "")}` }, String(status));
}

/**
 * A table in a keyboard-scrollable region. At a phone's width each row becomes a small card whose
 * cells carry their column's name (CSS, from data-label); the explicit roles keep it a table to
 * assistive technology when CSS changes its display.
 */
export function table({ caption, columns, rows, empty = "Nothing here yet." }) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  const t = h("table", { role: "table", class: "cards" },
    caption ? h("caption", { class: "sr-only" }, caption) : null,
    h("thead", {}, h("tr", { role: "row" },
      columns.map((c) => h("th", { scope: "col", role: "columnheader", class: c.class }, c.label)))),
    h("tbody", {}, rows.map((row) => h("tr", { role: "row" }, columns.map((c, i) => {
      const content = c.cell(row);
      return i === 0 && c.rowHeader !== false
        ? h("th", { scope: "row", role: "rowheader", class: c.class, "data-label": c.label }, content)
        : h("td", { role: "cell", class: c.class, "data-label": c.label }, content);
    })))));
  return h("div", { class: "table-wrap", role: "region", "aria-label": caption || "table", tabindex: "0" }, t);
}

/** A button that asks first, inline (no window.confirm): "Delete" -> "Delete X? [Yes] [No]". */
export function confirmButton(text, question, confirmText, action, { kind = "danger" } = {}) {
  const holder = h("div", { class: "confirm" });
  const start = button(text, () => ask(), { kind });
  function ask() {
    const no = button("Keep it", () => { holder.replaceChildren(start); start.focus(); });
    const yes = button(confirmText, async () => {
      yes.disabled = true;
      try {
        await action();
      } catch (err) {
        holder.replaceChildren(start, errorNotice(err));
      }
    }, { kind });
    holder.replaceChildren(h("p", { class: "confirm-question" }, question), h("div", { class: "actions" }, yes, no));
    yes.focus();
  }
  holder.append(start);
  return holder;
}

/** A "Copy" button for a value (with hidden context for screen readers). */
export function copyButton(value, context) {
  const b = button(["Copy", sr(` ${context}`)], async () => {
    try {
      await navigator.clipboard.writeText(value);
      b.firstChild.textContent = "Copied";
    } catch {
      b.firstChild.textContent = "Select and copy";
    }
    setTimeout(() => { b.firstChild.textContent = "Copy"; }, 2000);
  }, { kind: "small" });
  return b;
}

/** What an API error says, as a notice: the message, and each detail with its field and line. */
export function errorNotice(err) {
  const details = Array.isArray(err?.details) ? err.details : [];
  const items = details
    .filter((d) => d && typeof d === "object" && (d.message || d.reason))
    .map((d) => h("li", {}, [d.field, d.line ? `line ${d.line}` : null].filter(Boolean).join(", ")
      + (d.field || d.line ? ": " : "") + String(d.message || d.reason)));
  return notice("error", h("p", {}, err?.message || String(err)), items.length ? h("ul", {}, items) : null);
}

/**
 * A form: runs onSubmit when submitted (Enter or the button), disables its button meanwhile, shows
 * an API error above the button and marks the fields that the error's details name.
 */
export function form({ fields = [], submit, onSubmit, kind = "primary", extra = [], fieldMap = {}, label }) {
  const status = h("div", { class: "form-status" });
  const submitButton = h("button", { type: "submit", class: `button ${kind}` }, submit);
  const el = h("form", { novalidate: true, "aria-label": label },
    fields.map((f) => f.wrap || f), extra, status, h("div", { class: "actions" }, submitButton));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const f of Object.values(fieldMap)) f.setError?.("");
    status.replaceChildren();
    const invalid = fields.find((f) => f.input && !f.input.checkValidity());
    if (invalid) {
      invalid.setError?.(invalid.input.validationMessage);
      invalid.input.focus();
      return;
    }
    submitButton.disabled = true;
    submitButton.setAttribute("aria-busy", "true");
    try {
      await onSubmit();
    } catch (err) {
      status.replaceChildren(errorNotice(err));
      let first = null;
      for (const d of Array.isArray(err?.details) ? err.details : []) {
        const f = d && fieldMap[d.field];
        if (!f) continue;
        f.setError(d.line ? `line ${d.line}: ${d.message}` : String(d.message || err.message));
        first ??= f.input;
      }
      first?.focus(); // the field that needs fixing, with its message; the summary stays by the button
    } finally {
      submitButton.disabled = false;
      submitButton.removeAttribute("aria-busy");
    }
  });
  return el;
}

export function section(title, ...children) {
  const id = uid("section");
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}
