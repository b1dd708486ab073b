// Hash routes ("#/lists/abc") to pages. A page is a module's default export (or an array of them):
//   { path: "/lists/:id", title: "List" | (params) => "...", nav: {label, order}?, public: true?,
//     render(main, ctx) }
// ctx: params, query, navigate(hash), flash(message) for the next page, every(ms, fn) (runs while
// the page is shown and the tab is visible), onLeave(fn), signal (aborted when the page is left).

import { whenSessionEnds } from "./api.js";
import { clear, errorNotice, h } from "./dom.js";
import { session } from "./session.js";

let pages = [];
let current = null; // {cleanups: [], controller}
let pendingFlash = null;
let onNavigate = () => {};

function compile(path) {
  const names = [];
  const pattern = path.replace(/:([a-z_]+)/g, (_m, name) => { names.push(name); return "([^/]+)"; });
  return { regex: new RegExp(`^${pattern}$`), names };
}

export function configure(pageList, { navigated } = {}) {
  pages = pageList.map((page) => ({ ...page, ...compile(page.path) }));
  onNavigate = navigated || onNavigate;
  whenSessionEnds(() => {
    session.account = null;
    session.csrf = null;
    flash("Your session ended; sign in again.");
    navigate(`#/signin?next=${encodeURIComponent(location.hash)}`);
  });
}

export function flash(message) { pendingFlash = message; }

export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function parse() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  const [path, queryString = ""] = raw.split("?");
  return { path, query: Object.fromEntries(new URLSearchParams(queryString)) };
}

function find(path) {
  for (const page of pages) {
    const m = page.regex.exec(path);
    if (m) {
      const params = {};
      page.names.forEach((name, i) => { params[name] = decodeURIComponent(m[i + 1]); });
      return { page, params };
    }
  }
  return null;
}

function leave() {
  if (!current) return;
  current.controller.abort();
  for (const fn of current.cleanups) {
    try { fn(); } catch { /* a page's cleanup failing must not stop the next page */ }
  }
  current = null;
}

/** Only "#/..." hashes, so a next= value cannot send the console anywhere else. */
export const safeNext = (value) => (typeof value === "string" && value.startsWith("#/") ? value : null);

export async function render() {
  const { path, query } = parse();
  const main = document.getElementById("main");
  leave();
  if (path === "/") {
    navigate(session.account ? "#/campaigns" : "#/signin");
    return;
  }
  const found = find(path);
  const state = { cleanups: [], controller: new AbortController() };
  current = state;
  clear(main);
  if (!found) {
    document.title = "Not found · Beacon";
    main.append(h("h1", { tabindex: "-1" }, "Page not found"),
                h("p", {}, h("a", { href: "#/campaigns" }, "Go to the campaigns")));
    onNavigate(null);
    main.querySelector("h1").focus();
    return;
  }
  const { page, params } = found;
  if (!page.public && !session.account) {
    navigate(`#/signin?next=${encodeURIComponent(location.hash)}`);
    return;
  }
  const title = typeof page.title === "function" ? page.title(params) : page.title;
  document.title = `${title} · Beacon`;
  onNavigate(page);
  const message = pendingFlash;
  pendingFlash = null;
  const ctx = {
    params, query, navigate, flash, signal: state.controller.signal,
    onLeave: (fn) => state.cleanups.push(fn),
    every(ms, fn) {
      let timer = null;
      const tick = async () => {
        if (state.controller.signal.aborted) return;
        if (document.visibilityState === "visible") {
          try { await fn(); } catch { /* the next tick tries again */ }
        }
        if (!state.controller.signal.aborted) timer = setTimeout(tick, typeof ms === "function" ? ms() : ms);
      };
      timer = setTimeout(tick, typeof ms === "function" ? ms() : ms);
      state.cleanups.push(() => clearTimeout(timer));
    },
    message,
  };
  try {
    await page.render(main, ctx);
  } catch (err) {
    if (err?.name === "AbortError" || current !== state) return;
    if (err?.status === 401) return; // whenSessionEnds took over
    clear(main).append(h("h1", { tabindex: "-1" }, title),
                       err?.status === 404 ? h("p", {}, "This was not found. It may have been deleted.")
                                           : errorNotice(err));
  }
  if (current === state) {
    const heading = main.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: false });
    }
  }
}

export function start() {
  window.addEventListener("hashchange", () => {
    if (location.hash === "" || location.hash.startsWith("#/")) render();
  });
  render();
}
