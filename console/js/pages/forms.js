// Signup forms: a hosted page and embed code that put people on lists after they confirm by email
// (double opt-in, always). The embed code is shown as text to copy; nothing here renders it.

import { api, seg } from "../api.js";
import { append, button, checkbox, confirmButton, copyButton, field, form, h, link, notice, section, sr, table, uid }
  from "../dom.js";
import { num, when } from "../format.js";
import { session } from "../session.js";
import { flashed, pageHead } from "./common.js";

const listNames = (ids, lists) => ids.map((id) => lists.find((l) => l.id === id)?.name || id).join(", ");

const listPage = {
  path: "/forms",
  title: "Signup forms",
  section: "forms",
  nav: { label: "Forms", order: 22 },
  async render(main, ctx) {
    const [{ items }, { items: lists }] = await Promise.all([
      api.getAll("/v1/forms", { signal: ctx.signal }), api.getAll("/v1/lists", { signal: ctx.signal })]);
    append(main,
      pageHead("Signup forms", link("New form", "#/forms/new", { kind: "primary" })),
      flashed(ctx.message),
      h("p", {}, "A form puts people on your lists from your website: on a page Beacon hosts, or pasted into "
        + "yours. Everyone who signs up confirms by email before any campaign reaches them."),
      section("Your forms", table({
        caption: "Forms",
        columns: [
          { label: "Name", cell: (f) => h("a", { href: `#/forms/${encodeURIComponent(f.id)}` }, f.name) },
          { label: "Adds people to", cell: (f) => listNames(f.list_ids, lists) },
          { label: "Created", cell: (f) => when(f.created_at) },
        ],
        rows: items,
        empty: "No forms yet. Make one with “New form”.",
      })));
  },
};

/** One extra field of the form (a contact attribute): {el, read(), setError(part, message), focus()}. */
function fieldRow(original, index, onRemove) {
  const base = uid("form-field");
  const legend = h("legend", {}, `Field ${index + 1}`);
  const label = field({ label: "Label", name: `${base}-label`, required: true, value: original?.label || "",
                        placeholder: "First name" });
  const name = field({ label: "Attribute", name: `${base}-name`, required: true, value: original?.name || "",
                       placeholder: "first_name", hint: "Letters, digits and _: the contact attribute it fills.",
                       attrs: { spellcheck: "false" } });
  const required = checkbox({ label: "Required", checked: Boolean(original?.required), name: `${base}-required` });
  const remove = button(["Remove", sr(` field ${index + 1}`)], () => onRemove(), { kind: "small danger" });
  const el = h("fieldset", { class: "rule" }, legend,
    h("div", { class: "rule-grid" }, label.wrap, name.wrap), required.wrap, h("div", { class: "actions" }, remove));
  // a label typed first suggests the attribute: "First name" -> first_name
  label.input.addEventListener("input", () => {
    if (!name.input.dataset.touched) {
      name.input.value = label.input.value.trim().toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "_")
        .replace(/^_+|_+$/g, "").slice(0, 64);
    }
  });
  name.input.addEventListener("input", () => { name.input.dataset.touched = "1"; });
  if (original) name.input.dataset.touched = "1";
  return {
    el,
    parts: { label, name, required },
    read: () => ({ name: name.input.value.trim(), label: label.input.value.trim(), required: required.input.checked }),
    renumber(i) { legend.textContent = `Field ${i + 1}`; remove.lastChild.textContent = ` field ${i + 1}`; },
    focus() { label.input.focus(); },
  };
}

/** The embed code and the hosted page of a saved form, to copy. */
function embedSection(saved) {
  const codeId = uid("embed");
  const code = h("textarea", { id: codeId, class: "code embed", readonly: true, rows: 10, spellcheck: "false" });
  code.value = saved.embed_html;
  return section("Put it on your website",
    h("h3", {}, "The hosted page"),
    h("p", {}, "Link to it from anywhere (a newsletter, a social profile):"),
    h("div", { class: "secret" }, h("a", { href: saved.url, target: "_blank", rel: "noopener" }, saved.url),
      copyButton(saved.url, "the page's address")),
    h("div", { class: "field embed-field" }, h("label", { for: codeId }, "Embed code (HTML)"),
      h("p", { class: "hint" }, "Paste it into a page of your site: a plain HTML form, no script needed. It posts "
        + "to Beacon, which shows “check your inbox” (or sends the person to your thank-you page)."),
      code),
    h("div", { class: "actions" }, copyButton(saved.embed_html, "the embed code")));
}

async function render(main, ctx) {
  const isNew = !ctx.params.id;
  const [saved, { items: lists }, { items: domains }] = await Promise.all([
    isNew ? null : api.get(`/v1/forms/${seg(ctx.params.id)}`, { signal: ctx.signal }),
    api.getAll("/v1/lists", { signal: ctx.signal }),
    api.get("/v1/domains", { signal: ctx.signal }),
  ]);
  if (saved) document.title = `${saved.name} · Forms · Beacon`;
  const verified = domains.find((d) => d.status === "verified");
  const company = session.account?.company || "us";
  const f = {
    name: field({ label: "Form name", name: "name", required: true, value: saved?.name,
                  placeholder: "Newsletter signup", hint: "Shown as the hosted page's title." }),
    from_email: field({ label: "Confirmation email from", type: "email", name: "from_email", required: true,
                       value: saved?.from_email ?? (verified ? `hello@${verified.domain}` : ""),
                       hint: "An address on a verified sender domain; the confirmation email comes from it." }),
    from_name: field({ label: "From name", name: "from_name", value: saved?.from_name ?? "" }),
    consent_text: field({ label: "Consent text", name: "consent_text", required: true, multiline: true, rows: 3,
                          value: saved?.consent_text ?? `Yes, email me ${company}'s news. I can unsubscribe at any time.`,
                          hint: "What people agree to. It is shown on the form and kept with every signup as proof." }),
    success_url: field({ label: "Thank-you page", type: "url", name: "success_url", value: saved?.success_url ?? "",
                         placeholder: "https://example.com/thanks",
                         hint: "Where people go after signing up; Beacon's own “check your inbox” page if empty." }),
  };
  const chosen = new Set(saved?.list_ids ?? (lists.length === 1 ? [lists[0].id] : []));
  const boxes = lists.map((l) => ({ id: l.id, ...checkbox({ label: `${l.name} (${num(l.contact_count)} contacts)`,
                                                              checked: chosen.has(l.id), name: "form_list" }) }));
  const listsError = h("p", { class: "field-error", hidden: true });
  f.list_ids = {
    wrap: h("fieldset", { class: "field" }, h("legend", {}, "Add people to these lists"),
      boxes.length ? boxes.map((b) => b.wrap) : h("p", {}, "No lists yet: ", h("a", { href: "#/lists" }, "create one"), "."),
      listsError),
    setError(message) { listsError.textContent = message || ""; listsError.hidden = !message; },
  };
  const rows = [];
  const rowsBox = h("div", { class: "rules" });
  const addField = button("Add field", () => { addRow(null); rows.at(-1).focus(); });
  function addRow(original) {
    const row = fieldRow(original, rows.length, () => {
      const at = rows.indexOf(row);
      rows.splice(at, 1);
      row.el.remove();
      rows.forEach((r, i) => r.renumber(i));
      addField.focus();
    });
    rows.push(row);
    rowsBox.append(row.el);
  }
  for (const extra of saved?.fields || []) addRow(extra);
  const fieldsError = h("p", { class: "field-error", hidden: true });
  // "fields[1].name" from the API -> that row's part; plain names -> the fields above
  const fieldMap = new Proxy(f, {
    get(target, key) {
      if (key in target) return target[key];
      const m = /^fields\[(\d+)\](?:\.(name|label|required))?$/.exec(String(key));
      if (m && rows[Number(m[1])]) return rows[Number(m[1])].parts[m[2] || "name"];
      if (key === "fields") {
        return { input: addField, setError(message) { fieldsError.textContent = message || ""; fieldsError.hidden = !message; } };
      }
      return undefined;
    },
  });
  const editor = form({
    label: "Form", submit: isNew ? "Create form" : "Save form", fieldMap,
    fields: [f.name, f.list_ids, f.from_email, f.from_name,
      h("div", { class: "field" }, h("h3", {}, "Fields besides Email"),
        h("p", { class: "hint" }, "Email is always there. Add what else to ask (each fills a contact attribute)."),
        rowsBox, fieldsError, h("div", { class: "actions" }, addField)),
      f.consent_text, f.success_url],
    async onSubmit() {
      for (const r of rows) { r.parts.label.setError(""); r.parts.name.setError(""); }
      fieldsError.hidden = true;
      const body = {
        name: f.name.input.value.trim(),
        list_ids: boxes.filter((b) => b.input.checked).map((b) => b.id),
        from_email: f.from_email.input.value.trim(),
        from_name: f.from_name.input.value.trim() || null,
        fields: rows.map((r) => r.read()),
        consent_text: f.consent_text.input.value.trim(),
        success_url: f.success_url.input.value.trim() || null,
      };
      const answer = saved ? await api.patch(`/v1/forms/${seg(saved.id)}`, body) : await api.post("/v1/forms", body);
      ctx.flash(saved ? "The form is saved. Copies of the embed code made before keep working."
        : "The form is ready: put it on your website with the embed code below.");
      ctx.navigate(saved ? location.hash : `#/forms/${encodeURIComponent(answer.id)}`);
    },
  });
  append(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/forms" }, "Forms"), " / "),
    pageHead(saved ? saved.name : "New signup form"),
    flashed(ctx.message),
    verified ? null : notice("warning", h("p", {}, "The confirmation email needs a verified sender domain: ",
      h("a", { href: "#/domains" }, "add one"), " first.")),
    session.account && !session.account.postal_address ? notice("warning", h("p", {},
      "The confirmation email ends with your postal address: ", h("a", { href: "#/account" }, "add it under Account"),
      " first.")) : null,
    saved ? embedSection(saved) : null,
    section(saved ? "Settings" : "Make a form", editor));
  if (saved) {
    append(main, section("Delete", confirmButton("Delete form",
      `Delete “${saved.name}”? Its page and every copy of its embed code stop taking signups.`, "Delete it",
      async () => {
        await api.del(`/v1/forms/${seg(saved.id)}`);
        ctx.flash(`The form “${saved.name}” was deleted.`);
        ctx.navigate("#/forms");
      })));
  }
}

export default [
  listPage,
  { path: "/forms/new", title: "New form", section: "forms", render },
  { path: "/forms/:id", title: "Form", section: "forms", render },
];
