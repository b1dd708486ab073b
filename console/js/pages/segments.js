// Segments: the saved rules a campaign can target, with a live count of who they reach now.

import { api, seg } from "../api.js";
import { append, button, checkbox, confirmButton, field, form, h, link, section, table, uid }
  from "../dom.js";
import { num, when } from "../format.js";
import { liveCount } from "./audience-count.js";
import { flashed, pageHead } from "./common.js";
import { describeSegment, ruleRow } from "./segment-rules.js";

/** The account's campaigns an engagement rule can name (a draft was sent to nobody), and a namer. */
export async function engagementCampaigns(signal) {
  const { items } = await api.getAll("/v1/campaigns", { signal });
  const sent = items.filter((c) => c.status !== "draft");
  const names = new Map(items.map((c) => [c.id, c.name]));
  return { campaigns: sent, campaignName: (id) => names.get(id) || id };
}

const listPage = {
  path: "/segments",
  title: "Segments",
  section: "segments",
  nav: { label: "Segments", order: 25 },
  async render(main, ctx) {
    const [{ items }, { campaignName }] = await Promise.all([
      api.getAll("/v1/segments", { signal: ctx.signal }), engagementCampaigns(ctx.signal)]);
    append(main,
      pageHead("Segments", link("New segment", "#/segments/new", { kind: "primary" })),
      flashed(ctx.message),
      h("p", {}, "A segment picks contacts by their address, attributes, when they were added, and what they "
        + "did with earlier campaigns. A campaign sent to lists with a segment goes only to the lists' "
        + "subscribed contacts who match it, judged when it is sent."),
      section("Your segments", table({
        caption: "Segments",
        columns: [
          { label: "Name", cell: (s) => h("a", { href: `#/segments/${encodeURIComponent(s.id)}` }, s.name) },
          { label: "Who", cell: (s) => describeSegment(s, campaignName) },
          { label: "Changed", cell: (s) => when(s.updated_at) },
        ],
        rows: items,
        empty: "No segments yet. Make one with “New segment”.",
      })));
  },
};

function matchChoice(current) {
  const name = uid("match");
  const choice = (value, text) => {
    const id = `${name}-${value}`;
    return h("div", { class: "check" },
      h("input", { type: "radio", id, name, value, checked: (current || "all") === value }),
      h("label", { for: id }, text));
  };
  const el = h("fieldset", { class: "field" }, h("legend", {}, "Contacts must match"),
    choice("all", "all of the rules"), choice("any", "any of the rules"));
  return { el, read: () => el.querySelector("input:checked")?.value || "all" };
}

async function render(main, ctx) {
  const isNew = !ctx.params.id;
  const [segment, listAnswer, engagement] = await Promise.all([
    isNew ? null : api.get(`/v1/segments/${seg(ctx.params.id)}`, { signal: ctx.signal }),
    api.getAll("/v1/lists", { signal: ctx.signal }),
    engagementCampaigns(ctx.signal),
  ]);
  if (segment) document.title = `${segment.name} · Segments · Beacon`;
  const lists = listAnswer.items;
  const name = field({ label: "Segment name", name: "name", required: true, value: segment?.name,
                       placeholder: "Customers in Berlin" });
  const match = matchChoice(segment?.match);
  const rows = [];
  const rulesBox = h("div", { class: "rules" });
  const addButton = button("Add rule", () => { addRow(null); rows.at(-1).focus(); recount(); });
  const rulesError = h("p", { class: "field-error", hidden: true });

  function addRow(original) {
    const row = ruleRow({
      index: rows.length, original, campaigns: engagement.campaigns,
      onChange: () => recount(),
      onRemove: () => {
        const at = rows.indexOf(row);
        rows.splice(at, 1);
        row.el.remove();
        rows.forEach((r, i) => r.renumber(i));
        const next = rows[at] || rows[at - 1];
        if (next) next.focus(); else addButton.focus();
        recount();
      },
    });
    rows.push(row);
    rulesBox.append(row.el);
  }
  for (const rule of segment?.rules || []) addRow(rule);
  if (!rows.length) addRow(null);

  /** {rules} or {reason}: the rows as the API takes them, or which one is not finished. */
  function readRules() {
    const rules = [];
    for (const [i, row] of rows.entries()) {
      const r = row.read();
      if (r.missing) return { reason: `Rule ${i + 1} needs ${r.missing}.`, row, part: r.part };
      rules.push(r.rule);
    }
    return { rules };
  }

  function showProblem(err) {
    for (const row of rows) row.clearErrors();
    rulesError.hidden = true;
    let first = null;
    for (const d of Array.isArray(err?.details) ? err.details : []) {
      const m = /^rules\[(\d+)\](?:\.(field|op|value))?/.exec(String(d.field || ""));
      if (m && rows[Number(m[1])]) {
        first ??= rows[Number(m[1])].setError(m[2] || "field", String(d.message || err.message)).input;
      } else if (d.field === "rules" || d.field === "match") {
        rulesError.textContent = String(d.message || err.message);
        rulesError.hidden = false;
      }
    }
    return first;
  }

  // the live count, among lists the person picks (all of them to begin with)
  const among = lists.map((l) => ({ id: l.id, ...checkbox({ label: `${l.name} (${num(l.contact_count)})`,
                                                             checked: true, name: "count_list" }) }));
  const counter = liveCount({ label: "Contacts who match now", signal: ctx.signal, onProblem: showProblem });
  function recount() {
    const read = readRules();
    const listIds = among.filter((b) => b.input.checked).map((b) => b.id);
    if (read.reason) counter.update({ reason: read.reason });
    else if (!lists.length) counter.update({ reason: "Create a list and add contacts to count them." });
    else if (!listIds.length) counter.update({ reason: "Choose at least one list to count in." });
    else counter.update({ match: match.read(), rules: read.rules, list_ids: listIds.slice(0, 20) });
  }
  const countPanel = section("Live count", counter.el,
    lists.length ? h("fieldset", { class: "field count-lists", onchange: () => recount() },
      h("legend", {}, "Count among these lists"), among.map((b) => b.wrap)) : null,
    h("p", { class: "hint" }, "Only subscribed contacts count. Opened and clicked mean a person did: "
      + "machine opens and link scanners are left out."));

  const editor = form({
    label: "Segment", submit: isNew ? "Create segment" : "Save segment", fieldMap: { name },
    fields: [name, { wrap: match.el },
      h("div", { class: "field" }, h("h3", {}, "Rules"), rulesBox, rulesError,
        h("div", { class: "actions" }, addButton))],
    async onSubmit() {
      const read = readRules();
      if (read.reason) {
        read.row.setError(read.part, read.reason);
        read.row.focusPart(read.part);
        throw Object.assign(new Error(read.reason), { details: [] });
      }
      const body = { name: name.input.value.trim(), match: match.read(), rules: read.rules };
      let saved;
      try {
        saved = segment ? await api.patch(`/v1/segments/${seg(segment.id)}`, body)
          : await api.post("/v1/segments", body);
      } catch (err) {
        showProblem(err)?.focus();
        throw err;
      }
      ctx.flash(segment ? "The segment is saved." : `The segment “${saved.name}” is ready: choose it in a campaign.`);
      ctx.navigate(segment ? location.hash : `#/segments/${encodeURIComponent(saved.id)}`);
    },
  });
  match.el.addEventListener("change", () => recount());

  append(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/segments" }, "Segments"), " / "),
    pageHead(segment ? segment.name : "New segment"),
    flashed(ctx.message),
    segment ? h("p", { class: "lead" }, `Who: ${describeSegment(segment, engagement.campaignName)}`) : null,
    h("div", { class: "editor segment-editor" }, section("Segment", editor), countPanel));
  if (segment) {
    append(main, section("Delete", confirmButton("Delete segment",
      `Delete the segment “${segment.name}”? Campaigns already sent keep the rules they were sent with.`,
      "Delete it", async () => {
        await api.del(`/v1/segments/${seg(segment.id)}`);
        ctx.flash(`The segment “${segment.name}” was deleted.`);
        ctx.navigate("#/segments");
      })));
  }
  counter.update(null);
  recount();
}

export default [
  listPage,
  { path: "/segments/new", title: "New segment", section: "segments", render },
  { path: "/segments/:id", title: "Segment", section: "segments", render },
];
