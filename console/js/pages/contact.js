import { api, seg } from "../api.js";
import { append, badge, button, confirmButton, errorNotice, h, section, table } from "../dom.js";
import { num, when } from "../format.js";
import { pageHead } from "./common.js";

export default {
  path: "/contacts/:email",
  title: "Contact",
  section: "lists",
  async render(main, ctx) {
    const email = ctx.params.email;
    const contact = await api.get(`/v1/contacts/${seg(email)}`, { signal: ctx.signal });
    document.title = `${contact.email} · Beacon`;
    const e = contact.engagement || {};
    const exportResult = h("div", { "aria-live": "polite" });
    const exportButton = button("Download everything stored (JSON)", async () => {
      exportResult.replaceChildren();
      try {
        const data = await api.get(`/v1/contacts/${seg(email)}/export`);
        const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
        const a = h("a", { href: URL.createObjectURL(blob), download: `${contact.email}.json` }, "download");
        a.click();
        setTimeout(() => URL.revokeObjectURL(a.href), 10000);
      } catch (err) {
        exportResult.append(errorNotice(err));
      }
    });
    append(main, 
      h("p", { class: "crumbs" }, h("a", { href: "#/lists" }, "Lists"), " / "),
      pageHead(contact.email),
      h("p", { class: "lead" }, badge(contact.status), ` since ${when(contact.created_at)}`),
      section("Details",
        h("dl", { class: "facts" },
          h("div", {}, h("dt", {}, "Lists"), h("dd", {}, contact.lists.length
            ? contact.lists.map((l, i) => [i ? ", " : "",
                                          h("a", { href: `#/lists/${encodeURIComponent(l.id)}` }, l.name)])
            : "none")),
          h("div", {}, h("dt", {}, "Emails sent"), h("dd", {}, num(e.sends))),
          h("div", {}, h("dt", {}, "Opens"), h("dd", {}, num(e.opens))),
          h("div", {}, h("dt", {}, "Clicks"), h("dd", {}, num(e.clicks))),
          h("div", {}, h("dt", {}, "Last activity"), h("dd", {}, when(e.last_activity_at))))),
      section("Attributes", table({
        caption: "Attributes",
        columns: [
          { label: "Name", cell: ([k]) => k },
          { label: "Value", cell: ([, v]) => (typeof v === "string" ? v : JSON.stringify(v)) },
        ],
        rows: Object.entries(contact.attributes || {}),
        empty: "No attributes.",
      })),
      section("Privacy",
        h("p", {}, "Export everything Beacon stores about this person, or erase it. An unsubscribed person "
          + "stays suppressed after erasure (as a hash, without the address)."),
        h("div", { class: "actions" }, exportButton,
          confirmButton("Erase contact", `Erase ${contact.email} from every list and delete what is stored about them?`,
            "Erase for good", async () => {
              await api.del(`/v1/contacts/${seg(email)}`);
              ctx.flash(`${contact.email} was erased.`);
              ctx.navigate("#/lists");
            })),
        exportResult),
    );
  },
};
