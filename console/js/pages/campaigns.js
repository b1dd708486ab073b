import { api } from "../api.js";
import { append, badge, h, link, section, table } from "../dom.js";
import { num, when } from "../format.js";
import { flashed, pageHead } from "./common.js";

export const campaignHref = (c) =>
  `#/campaigns/${encodeURIComponent(c.id)}/${c.status === "draft" ? "edit" : "report"}`;

export default {
  path: "/campaigns",
  title: "Campaigns",
  section: "campaigns",
  nav: { label: "Campaigns", order: 10 },
  async render(main, ctx) {
    const { items } = await api.getAll("/v1/campaigns", { signal: ctx.signal });
    append(main, 
      pageHead("Campaigns", link("New campaign", "#/campaigns/new", { kind: "primary" })),
      flashed(ctx.message),
      section("All campaigns", table({
        caption: "Campaigns",
        columns: [
          { label: "Name", cell: (c) => h("a", { href: campaignHref(c) }, c.name) },
          { label: "Status", cell: (c) => badge(c.status) },
          { label: "Subject", cell: (c) => c.subject },
          { label: "Recipients", class: "num", cell: (c) => (c.status === "draft" ? "–" : num(c.recipients)) },
          { label: "Sent or scheduled", cell: (c) => when(c.send_at || c.send_requested_at) },
        ],
        rows: items,
        empty: "No campaigns yet. Write your first one with “New campaign”.",
      })),
    );
  },
};
