import { api } from "../api.js";
import { append, field, form, h, section, table } from "../dom.js";
import { num, when } from "../format.js";
import { flashed, pageHead } from "./common.js";

export default {
  path: "/lists",
  title: "Lists",
  section: "lists",
  nav: { label: "Lists", order: 20 },
  async render(main, ctx) {
    const { items } = await api.getAll("/v1/lists", { signal: ctx.signal });
    const name = field({ label: "List name", name: "name", required: true });
    append(main, 
      pageHead("Lists"),
      flashed(ctx.message),
      section("Your lists", table({
        caption: "Lists",
        columns: [
          { label: "Name", cell: (l) => h("a", { href: `#/lists/${encodeURIComponent(l.id)}` }, l.name) },
          { label: "Contacts", class: "num", cell: (l) => num(l.contact_count) },
          { label: "Created", cell: (l) => when(l.created_at) },
        ],
        rows: items,
        empty: "No lists yet. Create one below, then import a CSV file into it.",
      })),
      section("New list", form({
        label: "New list", fields: [name], submit: "Create list", fieldMap: { name },
        async onSubmit() {
          const created = await api.post("/v1/lists", { name: name.input.value.trim() });
          ctx.flash(`The list “${created.name}” is ready: import contacts into it.`);
          ctx.navigate(`#/lists/${encodeURIComponent(created.id)}`);
        },
      })),
    );
  },
};
