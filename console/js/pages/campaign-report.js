import { api, seg } from "../api.js";
import { lineChart } from "../chart.js";
import { append, badge, button, confirmButton, errorNotice, field, h, section, table, uid } from "../dom.js";
import { num, pct, timeOfDay, when } from "../format.js";
import { flashed, pageHead } from "./common.js";

// How often the report reads the stats again: often while it sends, rarely once it is done (each
// read is a Query over the campaign's engaged recipients). Never while the tab is hidden.
const REFRESH_MS = { sending: 5000, paused: 15000, scheduled: 30000 };
const SETTLED_REFRESH_MS = 60000;

const OPEN_SERIES = [
  { key: "human_opens", label: "People who opened", className: "s-human" },
  { key: "machine_opens", label: "Machine opens", className: "s-machine" },
];
const CLICK_SERIES = [
  { key: "human_clicks", label: "Clicks by people", className: "s-human" },
  { key: "machine_clicks", label: "Machine clicks", className: "s-machine" },
];

function figure(label, value, rate) {
  const id = uid("figure");
  return h("div", { class: "figure" },
    h("dt", { id }, label),
    h("dd", { "aria-labelledby": id, class: "value" }, num(value)),
    rate ? h("dd", { class: "rate" }, rate) : null);
}

function figures(stats) {
  const o = stats.opens || {};
  const c = stats.clicks || {};
  const base = stats.delivered || stats.sent;
  return [
    section("Delivery", h("dl", { class: "figures" },
      figure("Recipients", stats.recipients),
      figure("Sent", stats.sent),
      figure("Delivered", stats.delivered, stats.sent ? `${pct(stats.delivered, stats.sent)} of sent` : null),
      figure("Bounced", stats.bounced),
      figure("Complained", stats.complained),
      figure("Unsubscribed", stats.unsubscribed),
      figure("Failed", stats.failed),
      figure("Skipped (suppressed)", stats.skipped_suppressed),
      figure("Not sent", stats.not_sent))),
    section("Engagement", h("p", { class: "hint" },
      "People are counted apart from machines: Apple Mail Privacy Protection, image proxies prefetching for "
      + "a reader are told apart, and link scanners that open and click everything are not people."),
    h("dl", { class: "figures" },
      figure("Opened by people", o.human_unique, base ? `${pct(o.human_unique, base)} of delivered` : null),
      figure("Machine opens", o.machine),
      figure("All opens", o.total),
      figure("Clicked by people", c.human_unique, base ? `${pct(c.human_unique, base)} of delivered` : null),
      figure("Machine clicks", c.machine),
      figure("All clicks", c.total))),
  ];
}

function progressOf(stats, status) {
  if (!stats.recipients && status !== "sending") return null;
  const settled = (stats.sent || 0) + (stats.failed || 0) + (stats.skipped_suppressed || 0);
  const id = uid("progress");
  return h("div", { class: "progress" },
    h("label", { for: id }, "Sending progress"),
    h("progress", { id, max: String(Math.max(1, stats.recipients)), value: String(settled) }),
    h("span", { class: "progress-text" }, `${num(settled)} of ${num(stats.recipients)} recipients settled`
      + (stats.recipients_final === false ? " (still counting recipients)" : "")));
}

function linkTable(links) {
  return table({
    caption: "Clicks per link",
    columns: [
      { label: "Link", cell: (l) => (/^https?:\/\//i.test(l.url)
        ? h("a", { href: l.url, target: "_blank", rel: "noopener noreferrer" }, l.url) : l.url) },
      { label: "Clicks", class: "num", cell: (l) => num(l.total) },
      { label: "Unique clickers", class: "num", cell: (l) => num(l.unique) },
      { label: "People", class: "num", cell: (l) => num(l.human_unique ?? 0) },
      { label: "Machine clicks", class: "num", cell: (l) => num(l.machine ?? 0) },
    ],
    rows: links,
    empty: "The campaign has no tracked links.",
  });
}

function controls(campaign, act) {
  const status = campaign.status;
  const out = [];
  if (status === "sending") out.push(button("Pause", () => act("pause"), { kind: "secondary" }));
  if (status === "paused") out.push(button("Resume", () => act("resume"), { kind: "primary" }));
  if (["sending", "paused", "scheduled"].includes(status)) {
    out.push(confirmButton("Cancel campaign", "Cancel it for good? Emails not sent yet will never be sent.",
                           "Yes, cancel it", () => act("cancel")));
  }
  return out;
}

const RESEND_HINT = "A new draft with this campaign's content for the recipients who have not read it: "
  + "no person opened it (non-openers) or clicked in it (non-clickers). Apple Mail Privacy Protection, image proxies and link scanners "
  + "do not count as reading; anyone unsubscribed since is left out. Check it, narrow it with a segment, then "
  + "send or schedule it.";

/** Who the campaign went to, beyond its lists: the original of a resend, the segment it was sent with. */
function audienceLines(campaign) {
  const lines = [];
  if (campaign.resend_of) {
    lines.push(h("p", { class: "subject" }, "A resend of ",
      h("a", { href: `#/campaigns/${encodeURIComponent(campaign.resend_of.campaign_id)}/report` }, "the original"),
      ` to its ${campaign.resend_of.audience === "non_clickers" ? "non-clickers" : "non-openers"}.`));
  }
  if (campaign.segment) {
    lines.push(h("p", { class: "subject" }, `Segment: “${campaign.segment.name}”, as it was when sent.`));
  }
  return lines;
}

/** "Resend to non-openers / non-clickers": a new draft, opened in the editor. */
function resendSection(campaign, ctx) {
  const subject = field({ label: "Subject of the resend", name: "resend_subject", required: false,
                          value: campaign.subject, hint: "A new subject often does better than the same one." });
  const status = h("div", { "aria-live": "polite" });
  async function resend(audience, clicked) {
    status.replaceChildren();
    clicked.disabled = true;
    try {
      const body = { audience };
      if (subject.input.value.trim()) body.subject = subject.input.value;
      const draft = await api.post(`/v1/campaigns/${seg(campaign.id)}/resend`, body);
      ctx.flash(`A resend draft to the ${audience === "non_clickers" ? "non-clickers" : "non-openers"}: `
        + "check it, then send or schedule it.");
      ctx.navigate(`#/campaigns/${encodeURIComponent(draft.id)}/edit`);
    } catch (err) {
      status.replaceChildren(errorNotice(err));
      clicked.disabled = false;
    }
  }
  const openers = button("Resend to non-openers", (e) => resend("non_openers", e.currentTarget), { kind: "primary" });
  const clickers = button("Resend to non-clickers", (e) => resend("non_clickers", e.currentTarget));
  return section("Send it again to those who did not read it", h("p", { class: "hint" }, RESEND_HINT),
    subject.wrap, status, h("div", { class: "resend-row" }, openers, clickers));
}

export default {
  path: "/campaigns/:id/report",
  title: "Report",
  section: "campaigns",
  async render(main, ctx) {
    const path = `/v1/campaigns/${seg(ctx.params.id)}`;
    let campaign = await api.get(path, { signal: ctx.signal });
    if (campaign.status === "draft") {
      ctx.navigate(`#/campaigns/${encodeURIComponent(campaign.id)}/edit`);
      return;
    }
    document.title = `${campaign.name} · Report · Beacon`;
    const actions = h("div", { class: "actions" });
    const statusLine = h("p", { class: "lead" });
    const actionResult = h("div", { "aria-live": "polite" });
    const updated = h("span", { class: "updated" });
    const progress = h("div", {});
    const numbers = h("div", {});
    const charts = h("div", { class: "charts" });
    const links = h("div", {});
    const again = h("div", {});
    const aimedAt = h("div", {});

    async function act(action) {
      actionResult.replaceChildren();
      try {
        await api.post(`${path}/${action}`, {});
        await refresh();
        actions.querySelector("button")?.focus();
      } catch (err) {
        actionResult.replaceChildren(errorNotice(err));
      }
    }

    async function refresh() {
      const [c, stats, timeline] = await Promise.all([
        api.get(path, { signal: ctx.signal }),
        api.get(`${path}/stats`, { signal: ctx.signal }),
        api.get(`${path}/timeline`, { signal: ctx.signal }),
      ]);
      campaign = c;
      statusLine.replaceChildren(badge(campaign.status),
        campaign.status === "scheduled" ? ` for ${when(campaign.send_at)}` : "",
        campaign.send_requested_at && campaign.status !== "scheduled"
          ? ` · started ${when(campaign.send_at || campaign.send_requested_at)}` : "",
        campaign.finished_at ? ` · finished ${when(campaign.finished_at)}` : "",
        campaign.status_reason ? h("span", { class: "reason" }, ` · ${campaign.status_reason}`) : "");
      actions.replaceChildren(...controls(campaign, act));
      aimedAt.replaceChildren(...audienceLines(campaign));
      const canResend = ["sent", "cancelled"].includes(campaign.status);
      if (canResend && !again.firstChild) again.replaceChildren(resendSection(campaign, ctx));
      if (!canResend) again.replaceChildren();
      progress.replaceChildren(progressOf(stats, campaign.status) || "");
      numbers.replaceChildren(...figures(stats));
      charts.replaceChildren(
        lineChart({ title: "Opens over time", timeline, series: OPEN_SERIES, emptyText: "No opens yet" }),
        lineChart({ title: "Clicks over time", timeline, series: CLICK_SERIES, emptyText: "No clicks yet" }));
      links.replaceChildren(linkTable((stats.clicks && stats.clicks.links) || []));
      updated.textContent = `Updated ${timeOfDay()}`;
    }

    append(main, 
      h("p", { class: "crumbs" }, h("a", { href: "#/campaigns" }, "Campaigns"), " / "),
      pageHead(campaign.name),
      statusLine,
      h("p", { class: "subject" }, `Subject: ${campaign.subject} · From: `
        + `${campaign.from_name ? `${campaign.from_name} ` : ""}<${campaign.from_email}>`),
      aimedAt,
      flashed(ctx.message),
      actions, actionResult,
      h("div", { class: "refresh-row" }, updated, button("Refresh", async () => {
        try { await refresh(); } catch (err) { actionResult.replaceChildren(errorNotice(err)); }
      }, { kind: "small" })),
      progress,
      numbers,
      section("Over time", charts),
      section("Links", links),
      again,
    );
    await refresh();
    ctx.every(() => REFRESH_MS[campaign.status] || SETTLED_REFRESH_MS, refresh);
  },
};
