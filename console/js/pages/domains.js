import { api, seg } from "../api.js";
import { append, badge, button, confirmButton, copyButton, errorNotice, field, form, h, section, table } from "../dom.js";
import { when } from "../format.js";
import { flashed, pageHead } from "./common.js";

function domainPanel(domain, ctx) {
  const status = h("p", { class: "lead" });
  const result = h("div", { "aria-live": "polite" });
  const show = (d) => status.replaceChildren(badge(d.status), ` · checked ${when(d.checked_at || d.created_at)}`);
  show(domain);
  const check = button("Check status", async () => {
    result.replaceChildren();
    check.disabled = true;
    try {
      show(await api.get(`/v1/domains/${seg(domain.domain)}`));
    } catch (err) {
      result.append(errorNotice(err));
    } finally {
      check.disabled = false;
    }
  });
  const records = domain.dkim_records || [];
  return section(domain.domain,
    status,
    domain.status === "verified" ? null
      : h("p", {}, "Publish these three CNAME records at your DNS provider; the domain is verified once they are seen."),
    table({
      caption: `DKIM records of ${domain.domain}`,
      columns: [
        { label: "Name", cell: (r) => h("span", { class: "record" }, h("code", {}, r.name),
                                               copyButton(r.name, `the name of the ${r.type} record ${r.name}`)) },
        { label: "Type", cell: (r) => r.type },
        { label: "Value", cell: (r) => h("span", { class: "record" }, h("code", {}, r.value),
                                                copyButton(r.value, `the value of the ${r.type} record ${r.name}`)) },
      ],
      rows: records,
      empty: "No DKIM records yet.",
    }),
    h("div", { class: "actions" }, check,
      confirmButton("Remove domain", `Remove ${domain.domain}? Campaigns can then no longer send from it.`,
        "Remove it", async () => {
          await api.del(`/v1/domains/${seg(domain.domain)}`);
          ctx.flash(`${domain.domain} was removed.`);
          ctx.navigate(location.hash);
        })),
    result);
}

export default {
  path: "/domains",
  title: "Sender domains",
  section: "domains",
  nav: { label: "Sender domains", order: 30 },
  async render(main, ctx) {
    const { items } = await api.getAll("/v1/domains", { signal: ctx.signal });
    const domain = field({ label: "Domain", name: "domain", required: true, placeholder: "news.example.com",
                           hint: "Campaigns send from addresses on it (or on its subdomains)." });
    append(main, 
      pageHead("Sender domains"),
      flashed(ctx.message),
      section("Add a sender domain", form({
        label: "Add a sender domain", fields: [domain], submit: "Add domain", fieldMap: { domain },
        async onSubmit() {
          const added = await api.post("/v1/domains", { domain: domain.input.value.trim() });
          ctx.flash(`${added.domain} added: publish its DKIM records.`);
          ctx.navigate(location.hash);
        },
      })),
      items.length ? items.map((d) => domainPanel(d, ctx))
        : h("p", { class: "empty" }, "No sender domains yet."),
    );
  },
};
