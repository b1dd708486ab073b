import { api, seg } from "../api.js";
import { append, confirmButton, field, form, h, section, table } from "../dom.js";
import { when } from "../format.js";
import { flashed, pageHead, secretPanel } from "./common.js";

export default {
  path: "/api-keys",
  title: "API keys",
  section: "api-keys",
  nav: { label: "API keys", order: 40 },
  async render(main, ctx) {
    const { items } = await api.getAll("/v1/api-keys", { signal: ctx.signal });
    const name = field({ label: "Key name", name: "name", required: true, placeholder: "CRM sync",
                         hint: "What the key is for, so you know which one to revoke." });
    const created = h("div", { "aria-live": "polite" });
    const list = h("div", {}, keysTable({ items }));
    append(main, 
      pageHead("API keys"),
      flashed(ctx.message),
      h("p", {}, "A key gives a program full access to this account's /v1 API: send it as ",
        h("code", {}, "Authorization: Bearer <key>"), ". The API's reference is at ",
        h("a", { href: "/v1/docs" }, "/v1/docs"), "."),
      section("Create a key", form({
        label: "Create a key", fields: [name], submit: "Create key", fieldMap: { name }, extra: [created],
        async onSubmit() {
          const key = await api.post("/v1/api-keys", { name: name.input.value.trim() });
          name.input.value = "";
          created.replaceChildren(secretPanel(`The key “${key.name}”:`, key.key, "the new key"));
          list.replaceChildren(keysTable(await api.getAll("/v1/api-keys")));
        },
      })),
      section("Your keys", list),
    );
    function keysTable(answer) {
      return table({
        caption: "API keys",
        columns: [
          { label: "Name", cell: (k) => k.name },
          { label: "Starts with", cell: (k) => h("code", {}, `${k.prefix}…`) },
          { label: "Created", cell: (k) => when(k.created_at) },
          { label: "Revoke", cell: (k) => confirmButton("Revoke",
            `Revoke “${k.name}”? Programs using it stop at once.`, "Revoke it", async () => {
              await api.del(`/v1/api-keys/${seg(k.id)}`);
              ctx.flash(`The key “${k.name}” was revoked.`);
              ctx.navigate(location.hash);
            }) },
        ],
        rows: answer.items,
        empty: "No API keys.",
      });
    }
  },
};
