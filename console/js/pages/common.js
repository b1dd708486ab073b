// Pieces several pages share.

import { copyButton, h, notice } from "../dom.js";

/** A secret shown once (a new API key): the value, a Copy button and the warning. */
export function secretPanel(title, value, context) {
  return notice("info",
    h("p", {}, h("strong", {}, title)),
    h("p", {}, "Copy it now: it is shown only this once and stored only as a hash."),
    h("div", { class: "secret" }, h("code", {}, value), copyButton(value, context)));
}

/** What the previous page left for this one (ctx.message): a sentence, or the first API key. */
export function flashed(message) {
  if (!message) return null;
  if (typeof message === "object" && message.apiKey) {
    return secretPanel("Welcome to Beacon. Your account's first API key:", message.apiKey, "the API key");
  }
  return notice("info", h("p", {}, String(message)));
}

/** A page's heading row: the title, and actions on the right. */
export function pageHead(title, ...actions) {
  return h("div", { class: "page-head" }, h("h1", {}, title),
    actions.length ? h("div", { class: "actions" }, actions) : null);
}
