import { api, seg } from "../api.js";
import { append, checkbox, clear, confirmButton, errorNotice, field, form, h, notice, section, uid } from "../dom.js";
import { num, timeZone } from "../format.js";
import { flashed, pageHead } from "./common.js";
import { parseAttributes } from "./list.js";

const STARTER_HTML = `<!doctype html>
<html>
<body>
  <h1>Hello {{ contact.first_name or "there" }}</h1>
  <p>News from {{ account.company }}.</p>
  <p><a href="https://example.com/">Read more</a></p>
  <p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body>
</html>
`;
const STARTER_TEXT = `Hello {{ contact.first_name or "there" }}

News from {{ account.company }}: https://example.com/

Unsubscribe: {{ unsubscribe_url }}
`;

// The one place where an HTML string becomes a document: the preview's sandboxed frame. The page's
// CSP admits only this Trusted Types policy; the frame has neither allow-scripts nor allow-same-origin.
let previewPolicy = null;
function asFrameDocument(html) {
  if (!window.trustedTypes) return html;
  previewPolicy ??= window.trustedTypes.createPolicy("beacon-preview", { createHTML: (s) => s });
  return previewPolicy.createHTML(html);
}

function editorFields(campaign, lists, defaultFrom) {
  const f = {
    name: field({ label: "Campaign name", name: "name", required: true, value: campaign?.name,
                  hint: "For you; recipients do not see it." }),
    subject: field({ label: "Subject", name: "subject", required: true, value: campaign?.subject,
                     hint: "Template variables work here too, for example {{ contact.first_name }}." }),
    from_email: field({ label: "From email", type: "email", name: "from_email", required: true,
                        value: campaign?.from_email ?? defaultFrom,
                        hint: "An address on a verified sender domain of your account (see Sender domains)." }),
    from_name: field({ label: "From name", name: "from_name", value: campaign?.from_name }),
    reply_to: field({ label: "Reply-to", type: "email", name: "reply_to", value: campaign?.reply_to }),
    html: field({ label: "HTML", name: "html", required: true, multiline: true, rows: 16,
                  value: campaign?.html ?? STARTER_HTML, attrs: { spellcheck: "false", class: "code" },
                  hint: "A Jinja2 template: {{ contact.email }}, {{ contact.<attribute> }}, {{ unsubscribe_url }}, "
                    + "{{ account.company }}, {{ campaign.name }}. Links are tracked; a footer with the unsubscribe "
                    + "link is added if the template has none." }),
    text: field({ label: "Plain text", name: "text", multiline: true, rows: 6, value: campaign?.text ?? STARTER_TEXT,
                  attrs: { spellcheck: "false", class: "code" } }),
  };
  const chosen = new Set(campaign?.list_ids ?? (lists.length === 1 ? [lists[0].id] : []));
  const boxes = lists.map((l) => ({ id: l.id, ...checkbox({ label: `${l.name} (${num(l.contact_count)} contacts)`,
                                                              checked: chosen.has(l.id), name: "list" }) }));
  const listsError = h("p", { class: "field-error", hidden: true });
  const legendId = uid("lists");
  const listSet = h("fieldset", { class: "field", "aria-describedby": `${legendId}-hint` },
    h("legend", {}, "Send to these lists"),
    h("p", { class: "hint", id: `${legendId}-hint` }, "Every subscribed contact of the chosen lists gets it once."),
    boxes.length ? boxes.map((b) => b.wrap)
      : h("p", {}, "No lists yet: ", h("a", { href: "#/lists" }, "create one"), "."),
    listsError);
  f.list_ids = {
    wrap: listSet,
    setError(message) { listsError.textContent = message || ""; listsError.hidden = !message; },
  };
  const opens = checkbox({ label: "Track opens", checked: campaign?.tracking?.opens ?? true, name: "track_opens",
                           hint: "(a 1×1 image)" });
  const clicks = checkbox({ label: "Track clicks", checked: campaign?.tracking?.clicks ?? true, name: "track_clicks",
                            hint: "(links go through Beacon)" });
  const tracking = h("fieldset", { class: "field" }, h("legend", {}, "Tracking"), opens.wrap, clicks.wrap);
  const values = () => ({
    name: f.name.input.value.trim(),
    subject: f.subject.input.value,
    from_email: f.from_email.input.value.trim(),
    from_name: f.from_name.input.value.trim(),
    reply_to: f.reply_to.input.value.trim() || null,
    list_ids: boxes.filter((b) => b.input.checked).map((b) => b.id),
    html: f.html.input.value,
    text: f.text.input.value,
    tracking: { opens: opens.input.checked, clicks: clicks.input.checked },
  });
  const layout = [f.name, f.subject, f.from_email, f.from_name, f.reply_to, f.list_ids, f.html, f.text,
                  { wrap: tracking }];
  return { f, layout, values };
}

function previewSection(campaign, saveIfDirty) {
  const email = field({ label: "Preview as", type: "email", name: "preview_email", value: "ada@example.com",
                        required: true, hint: "The contact the preview is rendered for." });
  const attributes = field({ label: "Their attributes", name: "preview_attributes", multiline: true, rows: 2,
                             value: "first_name: Ada", hint: "One per line, as name: value." });
  const subject = h("p", { class: "preview-subject" });
  const frame = h("iframe", { title: "Email preview", sandbox: "", referrerpolicy: "no-referrer", class: "preview" });
  const text = h("pre", { class: "preview-text" });
  const output = h("div", { class: "preview-output", hidden: true }, subject, frame,
    h("details", {}, h("summary", {}, "Plain-text version"), text));
  const status = h("div", { "aria-live": "polite" });
  async function show() {
    clear(status);
    await saveIfDirty();
    const answer = await api.post(`/v1/campaigns/${seg(campaign.id)}/preview`, {
      contact: { email: email.input.value.trim(), attributes: parseAttributes(attributes.input.value) },
    });
    subject.replaceChildren(h("strong", {}, "Subject: "), answer.subject);
    frame.srcdoc = asFrameDocument(answer.html);
    text.textContent = answer.text;
    output.hidden = false;
  }
  const el = section("Preview",
    form({ label: "Preview", fields: [email, attributes], submit: "Preview", kind: "secondary",
           fieldMap: {}, onSubmit: show, extra: [status] }),
    h("p", { class: "hint" }, "Links and images in the preview are not followed; scripts never run in it."),
    output);
  return { el, show };
}

function testSection(campaign, saveIfDirty) {
  const to = field({ label: "Send a test to", name: "test_to", required: true, autocomplete: "email",
                     hint: "Up to 10 addresses, separated by commas. Subject starts with [Test]; no tracking." });
  const result = h("div", { "aria-live": "polite" });
  return section("Test send", form({
    label: "Test send", fields: [to], submit: "Send test", kind: "secondary", fieldMap: { to }, extra: [result],
    async onSubmit() {
      clear(result);
      await saveIfDirty();
      const addresses = to.input.value.split(/[,;\s]+/).map((a) => a.trim()).filter(Boolean);
      const answer = await api.post(`/v1/campaigns/${seg(campaign.id)}/test`, { to: addresses });
      result.append(notice("success", h("p", {}, `Test sent to ${answer.sent_to.join(", ")}.`)));
    },
  }));
}

function sendSection(campaign, lists, saveIfDirty, ctx) {
  const chosen = lists.filter((l) => campaign.list_ids.includes(l.id));
  const upTo = chosen.reduce((n, l) => n + Number(l.contact_count || 0), 0);
  const report = `#/campaigns/${encodeURIComponent(campaign.id)}/report`;
  const listCount = `${chosen.length} list${chosen.length === 1 ? "" : "s"}`;
  const sendNow = confirmButton("Send now",
    `Send “${campaign.name}” now to the subscribed contacts of ${listCount} (up to ${num(upTo)} people)?`,
    "Yes, send it", async () => {
      await saveIfDirty();
      await api.post(`/v1/campaigns/${seg(campaign.id)}/send`, {});
      ctx.flash("Sending started.");
      ctx.navigate(report);
    }, { kind: "primary" });
  const at = field({ label: "Send at", type: "datetime-local", name: "send_at", required: true,
                     hint: `In your time zone (${timeZone()}), at most a year ahead.` });
  const schedule = form({
    label: "Schedule", fields: [at], submit: "Schedule", kind: "secondary", fieldMap: { send_at: at },
    async onSubmit() {
      const when = new Date(at.input.value);
      if (Number.isNaN(when.getTime())) throw Object.assign(new Error("Choose a date and time."), { details: [] });
      await saveIfDirty();
      await api.post(`/v1/campaigns/${seg(campaign.id)}/send`, { send_at: when.toISOString() });
      ctx.flash("The campaign is scheduled.");
      ctx.navigate(report);
    },
  });
  return section("Send",
    chosen.length ? null : notice("warning", h("p", {}, "Choose at least one list above and save before sending.")),
    h("div", { class: "send-row" }, sendNow),
    h("h3", {}, "Or schedule it"), schedule);
}

async function render(main, ctx) {
  const isNew = !ctx.params.id;
  const [campaign, listAnswer, domainAnswer] = await Promise.all([
    isNew ? null : api.get(`/v1/campaigns/${seg(ctx.params.id)}`, { signal: ctx.signal }),
    api.get("/v1/lists", { signal: ctx.signal }),
    api.get("/v1/domains", { signal: ctx.signal }),
  ]);
  if (campaign && campaign.status !== "draft") {
    ctx.navigate(`#/campaigns/${encodeURIComponent(campaign.id)}/report`);
    return;
  }
  const lists = listAnswer.items;
  const verified = domainAnswer.items.find((d) => d.status === "verified") || domainAnswer.items[0];
  const { f, layout, values } = editorFields(campaign, lists, verified ? `news@${verified.domain}` : "");
  if (campaign) document.title = `${campaign.name} · Beacon`;
  let saved = campaign;
  let dirty = false;
  const saveStatus = h("div", { "aria-live": "polite" });
  async function save() {
    const body = values();
    saved = saved ? await api.patch(`/v1/campaigns/${seg(saved.id)}`, body) : await api.post("/v1/campaigns", body);
    dirty = false;
    return saved;
  }
  async function saveIfDirty() {
    if (!dirty) return;
    try {
      await save();
      saveStatus.replaceChildren(notice("success", h("p", {}, "Draft saved.")));
    } catch (err) {
      saveStatus.replaceChildren(errorNotice(err));
      throw err;
    }
  }
  const editor = form({
    label: "Campaign", fields: layout, submit: "Save draft", fieldMap: f, extra: [saveStatus],
    async onSubmit() {
      clear(saveStatus);
      const wasNew = !saved?.id;
      await save();
      if (wasNew) {
        ctx.flash("Draft saved. Preview it, send a test, then send or schedule it.");
        ctx.navigate(`#/campaigns/${encodeURIComponent(saved.id)}/edit`);
        return;
      }
      ctx.flash("Draft saved.");
      ctx.navigate(location.hash);
    },
  });
  editor.addEventListener("input", () => { dirty = true; });
  editor.addEventListener("change", () => { dirty = true; });
  append(main, 
    h("p", { class: "crumbs" }, h("a", { href: "#/campaigns" }, "Campaigns"), " / "),
    pageHead(campaign ? campaign.name : "New campaign"),
    flashed(ctx.message),
    domainAnswer.items.length ? null : notice("warning", h("p", {}, "Campaigns send only from a verified domain: ",
      h("a", { href: "#/domains" }, "add a sender domain"), " first.")),
  );
  if (!campaign) {
    append(main, section("Write the campaign", editor));
    return;
  }
  const preview = previewSection(campaign, saveIfDirty);
  append(main, 
    h("div", { class: "editor" }, section("Campaign", editor), preview.el),
    h("div", { class: "columns" },
      testSection(campaign, saveIfDirty), sendSection(campaign, lists, saveIfDirty, ctx)),
    section("Delete", confirmButton("Delete draft", `Delete the draft “${campaign.name}”?`, "Delete it",
      async () => {
        await api.del(`/v1/campaigns/${seg(campaign.id)}`);
        ctx.flash("The draft was deleted.");
        ctx.navigate("#/campaigns");
      })),
  );
  try {
    await preview.show();
  } catch {
    // the preview form shows its own errors when used; a first render that fails leaves it empty
  }
}

export default [
  { path: "/campaigns/new", title: "New campaign", section: "campaigns", render },
  { path: "/campaigns/:id/edit", title: "Edit campaign", section: "campaigns", render },
];
