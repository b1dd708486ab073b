import { api } from "../api.js";
import { append, field, form, h } from "../dom.js";
import { session, signIn } from "../session.js";

export default {
  path: "/signup",
  title: "Create an account",
  public: true,
  render(main, ctx) {
    if (session.account) return ctx.navigate("#/campaigns");
    const company = field({ label: "Company", name: "company", required: true, autocomplete: "organization" });
    const email = field({ label: "Email", type: "email", name: "email", required: true, autocomplete: "username" });
    const password = field({ label: "Password", type: "password", name: "password", required: true,
                             autocomplete: "new-password", hint: "At least 10 characters.",
                             attrs: { minlength: 10 } });
    const postal = field({ label: "Postal address", name: "postal_address", required: true, multiline: true, rows: 3,
                           autocomplete: "street-address",
                           hint: "Your business's postal address: the law (CAN-SPAM) wants it in the footer of every email." });
    append(main, h("div", { class: "auth" },
      h("h1", {}, "Create your Beacon account"),
      form({
        label: "Create an account", fields: [company, email, password, postal], submit: "Create account",
        fieldMap: { company, email, password, postal_address: postal },
        async onSubmit() {
          const created = await api.post("/v1/accounts", {
            company: company.input.value.trim(), email: email.input.value.trim(), password: password.input.value,
            postal_address: postal.input.value.trim(),
          });
          await signIn(email.input.value.trim(), password.input.value);
          ctx.flash({ apiKey: created.api_key });
          ctx.navigate("#/lists");
        },
      }),
      h("p", {}, "Have an account? ", h("a", { href: "#/signin" }, "Sign in"))));
  },
};
