// Webhooks: endpoints that get signed POSTs of what happens (Standard Webhooks), their delivery log
// and replays. The signing secret is shown once, when the endpoint is made.

import { api, seg } from "../api.js";
import { append, badge, button, checkbox, confirmButton, copyButton, errorNotice, field, form, h, link, notice,
  section, table } from "../dom.js";
import { timeOfDay, when } from "../format.js";
import { flashed, pageHead } from "./common.js";

export const EVENTS = [
  ["contact.subscribed", "A contact subscribed (API, import, form or resubscribe)"],
  ["contact.unsubscribed", "A contact unsubscribed"],
  ["email.delivered", "An email was delivered"],
  ["email.bounced", "An email bounced"],
  ["email.complained", "A recipient marked an email as spam"],
  ["email.opened", "An email was opened"],
  ["email.clicked", "A link in an email was clicked"],
  ["campaign.sent", "A campaign finished sending"],
];
const DELIVERIES_REFRESH_MS = 5000;

function settings(hook) {
  const url = field({ label: "Endpoint URL", type: "url", name: "url", required: true, value: hook?.url ?? "",
                      placeholder: "https://example.com/beacon-events",
                      hint: "https, on a public address. Beacon POSTs JSON there, signed with the endpoint's secret." });
  const chosen = new Set(hook?.events ?? ["contact.subscribed", "contact.unsubscribed"]);
  const boxes = EVENTS.map(([type, words]) => ({ type, ...checkbox({ label: type, hint: words,
                                                                        checked: chosen.has(type), name: "event" }) }));
  const eventsError = h("p", { class: "field-error", hidden: true });
  const events = {
    wrap: h("fieldset", { class: "field choices" }, h("legend", {}, "Events to send"), boxes.map((b) => b.wrap),
      eventsError),
    setError(message) { eventsError.textContent = message || ""; eventsError.hidden = !message; },
  };
  const machine = checkbox({ label: "Also machine opens and clicks", checked: Boolean(hook?.include_machine),
                             name: "include_machine",
                             hint: "Apple Mail Privacy Protection, link scanners, prefetching: sent with machine: true" });
  return {
    fields: [url, events, { wrap: machine.wrap }],
    fieldMap: { url, events },
    body: () => ({ url: url.input.value.trim(), events: boxes.filter((b) => b.input.checked).map((b) => b.type),
                   include_machine: machine.input.checked }),
    reset() { url.input.value = ""; },
  };
}

/** The new endpoint's signing secret: shown here once, never again. */
function secretOnce(hook) {
  return notice("info",
    h("p", {}, h("strong", {}, "The signing secret of ", h("span", { class: "break" }, hook.url), ":")),
    h("p", {}, "Copy it now: it is shown only this once. Verify each delivery's webhook-signature header with it "
      + "(any Standard Webhooks library does)."),
    h("div", { class: "secret" }, h("code", {}, hook.secret), copyButton(hook.secret, "the signing secret")));
}

const listPage = {
  path: "/webhooks",
  title: "Webhooks",
  section: "webhooks",
  nav: { label: "Webhooks", order: 45 },
  async render(main, ctx) {
    const { items } = await api.getAll("/v1/webhooks", { signal: ctx.signal });
    const made = settings(null);
    const secret = h("div", { "aria-live": "polite" });
    const list = h("div", {}, hooksTable(items));
    append(main,
      pageHead("Webhooks"),
      flashed(ctx.message),
      h("p", { class: "lead" }, "Beacon tells your systems what happens, as it happens: a signed JSON POST per event "
        + "(Standard Webhooks headers), retried for at least a day until your endpoint answers 2xx."),
      secret,
      section("Your endpoints", list),
      section("Add an endpoint", form({
        label: "Add an endpoint", fields: made.fields, fieldMap: made.fieldMap, submit: "Add endpoint",
        async onSubmit() {
          const hook = await api.post("/v1/webhooks", made.body());
          made.reset();
          secret.replaceChildren(secretOnce(hook));
          list.replaceChildren(hooksTable((await api.getAll("/v1/webhooks")).items));
          secret.querySelector("button")?.focus();
        },
      })));
    function hooksTable(rows) {
      return table({
        caption: "Webhook endpoints",
        columns: [
          { label: "Endpoint", class: "break", cell: (w) => link(w.url, `#/webhooks/${encodeURIComponent(w.id)}`) },
          { label: "Status", cell: (w) => badge(w.status) },
          { label: "Events", cell: (w) => w.events.join(", ") },
        ],
        rows,
        empty: "No endpoints yet.",
      });
    }
  },
};

function attemptText(a) {
  const answer = a.status_code ? `HTTP ${a.status_code}` : (a.error || "no answer");
  return `${when(a.at)}: ${answer}${a.ms !== undefined && a.ms !== null ? ` (${a.ms} ms)` : ""}`;
}

function deliveriesTable(items, retry) {
  return table({
    caption: "Deliveries",
    columns: [
      { label: "Event", cell: (d) => h("span", {}, d.type, h("br"), h("span", { class: "muted" }, when(d.created_at))) },
      { label: "Status", cell: (d) => badge(d.status) },
      { label: "Attempts", cell: (d) => (d.attempts?.length
        ? h("ul", { class: "attempts" }, d.attempts.map((a) => h("li", {}, attemptText(a))))
        : "none yet") },
      { label: "Next attempt", cell: (d) => (d.next_attempt_at ? when(d.next_attempt_at) : d.final_reason || "–") },
      { label: "Replay", cell: (d) => button(["Send again", h("span", { class: "sr-only" }, ` ${d.type} ${d.id}`)],
        () => retry(d), { kind: "small" }) },
    ],
    rows: items,
    empty: "Nothing delivered yet: deliveries show here once an event of a chosen kind happens.",
  });
}

async function detail(main, ctx) {
  const path = `/v1/webhooks/${seg(ctx.params.id)}`;
  const deliveriesPath = `${path}/deliveries?limit=50`;
  const [hook, deliveries] = await Promise.all([
    api.get(path, { signal: ctx.signal }), api.get(deliveriesPath, { signal: ctx.signal })]);
  document.title = `${hook.url} · Webhooks · Beacon`;
  const edit = settings(hook);
  const result = h("div", { "aria-live": "polite" });
  const log = h("div", {});
  const checked = h("p", { class: "muted" });
  function showLog(answer) {
    log.replaceChildren(deliveriesTable(answer.items, retry));
    checked.textContent = `Checked at ${timeOfDay()}; refreshed every few seconds while this page is open.`;
  }
  async function refresh() { showLog(await api.get(deliveriesPath, { signal: ctx.signal })); }
  async function retry(d) {
    result.replaceChildren();
    try {
      await api.post(`${path}/deliveries/${seg(d.id)}/retry`, {});
      result.replaceChildren(notice("info", h("p", {}, `The ${d.type} delivery is sent again.`)));
      await refresh();
    } catch (err) {
      result.replaceChildren(errorNotice(err));
    }
  }
  async function setStatus(status) {
    try {
      await api.patch(path, { status });
      ctx.flash(status === "enabled" ? "The endpoint is enabled." : "The endpoint is disabled.");
      ctx.navigate(location.hash);
    } catch (err) {
      result.replaceChildren(errorNotice(err));
    }
  }
  showLog(deliveries);
  ctx.every(DELIVERIES_REFRESH_MS, refresh);
  const toggle = hook.status === "enabled"
    ? button("Disable", () => setStatus("disabled"))
    : button("Enable", () => setStatus("enabled"), { kind: "primary" });
  append(main,
    h("p", { class: "crumbs" }, link("Webhooks", "#/webhooks"), " / "),
    pageHead(h("span", { class: "break" }, hook.url), toggle),
    h("p", { class: "lead" }, badge(hook.status), hook.disabled_reason ? ` ${hook.disabled_reason}` : null),
    flashed(ctx.message),
    section("Delivery log", result, log, h("div", { class: "actions" },
      button("Refresh", () => refresh().catch((err) => result.replaceChildren(errorNotice(err))))), checked),
    section("Settings", form({
      label: "Endpoint settings", fields: edit.fields, fieldMap: edit.fieldMap, submit: "Save endpoint",
      async onSubmit() {
        await api.patch(path, edit.body());
        ctx.flash("The endpoint is saved.");
        ctx.navigate(location.hash);
      },
    })),
    section("Delete", confirmButton("Delete endpoint", `Delete ${hook.url}? Nothing more is sent to it.`,
      "Delete it", async () => {
        await api.del(path);
        ctx.flash(`The endpoint ${hook.url} was deleted.`);
        ctx.navigate("#/webhooks");
      })));
}

export default [
  listPage,
  { path: "/webhooks/:id", title: "Webhook", section: "webhooks", render: detail },
];
