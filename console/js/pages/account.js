// The account: the company's name (in every email's footer and on the unsubscribe page), the postal
// address the law wants in every email, and the password.

import { api } from "../api.js";
import { append, field, form, h, section } from "../dom.js";
import { when } from "../format.js";
import { session } from "../session.js";
import { flashed, pageHead } from "./common.js";

export default {
  path: "/account",
  title: "Account",
  section: "account",
  nav: { label: "Account", order: 50 },
  async render(main, ctx) {
    const account = await api.get("/v1/account", { signal: ctx.signal });
    const company = field({ label: "Company", name: "company", required: true, value: account.company,
                            autocomplete: "organization",
                            hint: "Shown to the people you email: in the footer and on the unsubscribe page." });
    const postal = field({ label: "Postal address", name: "postal_address", required: true, multiline: true, rows: 3,
                           value: account.postal_address ?? "", autocomplete: "street-address",
                           hint: "The law (CAN-SPAM) wants it in the footer of every email: needed before the "
                             + "first campaign or signup form." });
    const current = field({ label: "Current password", type: "password", name: "current_password", required: true,
                            autocomplete: "current-password" });
    const fresh = field({ label: "New password", type: "password", name: "new_password", required: true,
                          autocomplete: "new-password", hint: "At least 10 characters." });
    append(main,
      pageHead("Account"),
      flashed(ctx.message),
      h("div", { class: "panel" }, h("dl", { class: "facts account-facts" },
        h("div", {}, h("dt", {}, "Signed in as"), h("dd", {}, account.email)),
        h("div", {}, h("dt", {}, "Account since"), h("dd", {}, when(account.created_at))))),
      section("Your company", form({
        label: "Company settings", fields: [company, postal], submit: "Save company",
        fieldMap: { company, postal_address: postal },
        async onSubmit() {
          const saved = await api.patch("/v1/account", { company: company.input.value.trim(),
                                                         postal_address: postal.input.value.trim() });
          if (session.account) Object.assign(session.account, { company: saved.company,
                                                               postal_address: saved.postal_address });
          ctx.flash("The company is saved.");
          ctx.navigate(location.hash); // the header shows the new name
        },
      })),
      section("Change the password", h("p", { class: "hint" }, "Changing it signs out every other browser "
        + "and session token; API keys keep working."), form({
        label: "Password change", fields: [current, fresh], submit: "Change password",
        fieldMap: { new_password: fresh, password: fresh }, // a wrong current password is said below
        async onSubmit() {
          current.setError("");
          try {
            await api.patch("/v1/account", { current_password: current.input.value,
                                             new_password: fresh.input.value });
          } catch (err) {
            if (err.code === "wrong_password") {
              current.setError("This is not the account's current password.");
              current.input.focus();
            }
            throw err;
          }
          ctx.flash("The password is changed. Every other session of the account was signed out.");
          ctx.navigate(location.hash);
        },
      })),
    );
  },
};
