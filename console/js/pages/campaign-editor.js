import { api, seg } from "../api.js";
import { append, checkbox, clear, confirmButton, errorNotice, field, form, h, notice, section, selectField, uid }
  from "../dom.js";
import { num, timeZone } from "../format.js";
import { session } from "../session.js";
import { liveCount } from "./audience-count.js";
import { flashed, pageHead } from "./common.js";
import { parseAttributes } from "./list.js";
import { describeSegment } from "./segment-rules.js";
import { engagementCampaigns } from "./segments.js";

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

function editorFields(campaign, lists, defaultFrom, { segments, campaignName, original }) {
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
  const resend = campaign?.resend_of;
  const chosen = new Set(campaign?.list_ids ?? (lists.length === 1 && !resend ? [lists[0].id] : []));
  const boxes = lists.map((l) => ({ id: l.id, ...checkbox({ label: `${l.name} (${num(l.contact_count)} contacts)`,
                                                              checked: chosen.has(l.id), name: "list" }) }));
  const listsError = h("p", { class: "field-error", hidden: true });
  const legendId = uid("lists");
  const listSet = resend
    ? h("div", { class: "field" }, h("h3", {}, "Who gets it"), notice("info", h("p", {},
      `A resend of “${original?.name ?? resend.campaign_id}” to its recipients who `,
      resend.audience === "non_clickers" ? "did not click in it" : "did not open it",
      " (a person, not a machine) and are still subscribed when it is sent. Narrow it with a segment.")))
    : h("fieldset", { class: "field", "aria-describedby": `${legendId}-hint` },
      h("legend", {}, "Send to these lists"),
      h("p", { class: "hint", id: `${legendId}-hint` }, "Every subscribed contact of the chosen lists gets it once."),
      boxes.length ? boxes.map((b) => b.wrap)
        : h("p", {}, "No lists yet: ", h("a", { href: "#/lists" }, "create one"), "."),
      listsError);
  f.list_ids = {
    wrap: listSet,
    setError(message) { listsError.textContent = message || ""; listsError.hidden = !message; },
  };
  const segmentChoice = selectField({
    label: "Segment", name: "segment_id", value: campaign?.segment_id || "", required: false,
    options: [{ value: "", label: resend ? "Everyone it is aimed at" : "Everyone on the chosen lists" },
              ...segments.map((sg) => ({ value: sg.id, label: sg.name }))],
    hint: segments.length ? "Only the contacts who match it, judged when the campaign is sent."
      : "No segments yet: make one under Segments to send to some of a list.",
  });
  f.segment_id = segmentChoice;
  const segmentWords = h("p", { class: "hint segment-words" });
  const excluded = new Set(campaign?.exclude_list_ids ?? []);
  const leaveOut = lists.map((l) => ({ id: l.id, ...checkbox({ label: l.name, checked: excluded.has(l.id),
                                                                 name: "exclude_list" }) }));
  const excludeError = h("p", { class: "field-error", hidden: true });
  const excludeSet = lists.length ? h("details", { class: "field exclude", open: excluded.size > 0 },
    h("summary", {}, `Leave out contacts of other lists${excluded.size ? ` (${excluded.size} chosen)` : ""}`),
    h("fieldset", { class: "field" }, h("legend", { class: "sr-only" }, "Leave out the contacts of these lists"),
      leaveOut.map((b) => b.wrap), excludeError)) : h("div", {});
  f.exclude_list_ids = {
    wrap: excludeSet,
    setError(message) { excludeError.textContent = message || ""; excludeError.hidden = !message; },
  };
  const audience = liveCount({ label: "Who gets it, counted now" });
  const segmentById = new Map(segments.map((sg) => [sg.id, sg]));
  function recount() {
    const sg = segmentById.get(segmentChoice.input.value);
    segmentWords.textContent = sg ? `Only: ${describeSegment(sg, campaignName)}.` : "";
    segmentWords.hidden = !sg;
    if (resend) {
      audience.el.hidden = true; // who it reaches is known when it is sent (the notice above says so)
      return;
    }
    const listIds = boxes.filter((b) => b.input.checked).map((b) => b.id);
    if (!listIds.length) {
      audience.update({ reason: "Choose at least one list." });
      return;
    }
    audience.update({ match: sg?.match || "all", rules: sg?.rules || [], list_ids: listIds,
                      exclude_list_ids: leaveOut.filter((b) => b.input.checked).map((b) => b.id) });
  }
  const audienceBox = h("div", { class: "field audience" }, segmentChoice.wrap, segmentWords, excludeSet, audience.el);
  for (const el of [listSet, audienceBox]) el.addEventListener("change", () => recount());
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
    ...(resend ? {} : { list_ids: boxes.filter((b) => b.input.checked).map((b) => b.id) }),
    segment_id: segmentChoice.input.value || null,
    exclude_list_ids: leaveOut.filter((b) => b.input.checked).map((b) => b.id),
    html: f.html.input.value,
    text: f.text.input.value,
    tracking: { opens: opens.input.checked, clicks: clicks.input.checked },
  });
  const layout = [f.name, f.subject, f.from_email, f.from_name, f.reply_to, f.list_ids, { wrap: audienceBox },
                  f.html, f.text, { wrap: tracking }];
  return { f, layout, values, recount };
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

function sendSection(campaign, lists, segments, original, saveIfDirty, ctx) {
  const chosen = lists.filter((l) => campaign.list_ids.includes(l.id));
  const upTo = chosen.reduce((n, l) => n + Number(l.contact_count || 0), 0);
  const report = `#/campaigns/${encodeURIComponent(campaign.id)}/report`;
  const listCount = `${chosen.length} list${chosen.length === 1 ? "" : "s"}`;
  const segment = segments.find((sg) => sg.id === campaign.segment_id);
  const resend = campaign.resend_of;
  const who = resend
    ? `the recipients of “${original?.name ?? resend.campaign_id}” who did not `
      + `${resend.audience === "non_clickers" ? "click in it" : "open it"}`
    : `the subscribed contacts of ${listCount}${segment ? ` who match “${segment.name}”` : ""} `
      + `(up to ${num(upTo)} people)`;
  const sendNow = confirmButton("Send now", `Send “${campaign.name}” now to ${who}?`,
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
    chosen.length || resend ? null : notice("warning", h("p", {}, "Choose at least one list above and save before sending.")),
    h("div", { class: "send-row" }, sendNow),
    h("h3", {}, "Or schedule it"), schedule);
}

async function render(main, ctx) {
  const isNew = !ctx.params.id;
  const [campaign, listAnswer, domainAnswer, segmentAnswer, engagement] = await Promise.all([
    isNew ? null : api.get(`/v1/campaigns/${seg(ctx.params.id)}`, { signal: ctx.signal }),
    api.getAll("/v1/lists", { signal: ctx.signal }),
    api.getAll("/v1/domains", { signal: ctx.signal }),
    api.getAll("/v1/segments", { signal: ctx.signal }),
    engagementCampaigns(ctx.signal),
  ]);
  if (campaign && campaign.status !== "draft") {
    ctx.navigate(`#/campaigns/${encodeURIComponent(campaign.id)}/report`);
    return;
  }
  const lists = listAnswer.items;
  const verified = domainAnswer.items.find((d) => d.status === "verified") || domainAnswer.items[0];
  const segments = segmentAnswer.items;
  const original = campaign?.resend_of
    ? await api.get(`/v1/campaigns/${seg(campaign.resend_of.campaign_id)}`, { signal: ctx.signal }).catch(() => null)
    : null;
  const { f, layout, values, recount } = editorFields(campaign, lists, verified ? `news@${verified.domain}` : "",
                                                     { segments, campaignName: engagement.campaignName, original });
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
    session.account && !session.account.postal_address ? notice("warning", h("p", {},
      "Every email ends with your postal address, as the law wants: ",
      h("a", { href: "#/account" }, "add it under Account"), " before sending.")) : null,
  );
  recount();
  if (!campaign) {
    append(main, section("Write the campaign", editor));
    return;
  }
  const preview = previewSection(campaign, saveIfDirty);
  append(main, 
    h("div", { class: "editor" }, section("Campaign", editor), preview.el),
    h("div", { class: "columns" },
      testSection(campaign, saveIfDirty), sendSection(campaign, lists, segments, original, saveIfDirty, ctx)),
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
