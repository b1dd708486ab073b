// The console's start: find out whether the browser holds a session (its cookie), draw the header
// and let the router show the page the address names.

import { button, clear, h } from "./dom.js";
import { pages } from "./pages/index.js";
import { configure, flash, navigate, render, start } from "./router.js";
import { restore, session, signOut } from "./session.js";

function drawHeader(current) {
  const nav = clear(document.getElementById("mainnav"));
  const account = clear(document.getElementById("account"));
  if (!session.account) return;
  const entries = pages.filter((p) => p.nav).sort((a, b) => a.nav.order - b.nav.order);
  nav.append(h("ul", {}, entries.map((p) => h("li", {}, h("a", {
    href: `#${p.path}`,
    "aria-current": current && current.section === p.section ? "page" : undefined,
  }, p.nav.label)))));
  account.append(
    h("span", { class: "company", title: session.account.email }, session.account.company),
    button("Sign out", async () => {
      try { await signOut(); } finally {
        flash("You are signed out.");
        navigate("#/signin");
      }
    }, { kind: "small" }),
  );
}

async function boot() {
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main").focus();
  });
  configure(pages, { navigated: drawHeader });
  try {
    await restore();
  } catch {
    // the API is unreachable: the sign-in page says so when it is used
  }
  start();
}

boot();
export { render };
