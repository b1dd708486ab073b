import { append, field, form, h, notice } from "../dom.js";
import { safeNext } from "../router.js";
import { session, signIn } from "../session.js";

export default {
  path: "/signin",
  title: "Sign in",
  public: true,
  render(main, ctx) {
    if (session.account) return ctx.navigate(safeNext(ctx.query.next) || "#/campaigns");
    const email = field({ label: "Email", type: "email", name: "email", required: true, autocomplete: "username" });
    const password = field({ label: "Password", type: "password", name: "password", required: true,
                             autocomplete: "current-password" });
    append(main, h("div", { class: "auth" },
      h("h1", {}, "Sign in to Beacon"),
      ctx.message ? notice("info", ctx.message) : null,
      form({
        label: "Sign in", fields: [email, password], submit: "Sign in",
        fieldMap: { email, password },
        async onSubmit() {
          await signIn(email.input.value.trim(), password.input.value);
          ctx.navigate(safeNext(ctx.query.next) || "#/campaigns");
        },
      }),
      h("p", {}, "New to Beacon? ", h("a", { href: "#/signup" }, "Create an account"))));
  },
};
