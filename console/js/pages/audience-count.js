// A live count of who a segment (or a campaign's lists, exclusions and segment) reaches now:
// POST /v1/segments/count, following next_cursor while the answer is incomplete. Nothing is saved.
// The segments page and the campaign editor share it.

import { api } from "../api.js";
import { h } from "../dom.js";
import { num } from "../format.js";

const WAIT_MS = 400; // typing settles before a count is asked for

/**
 * {el, update(input)}: input is a count body {match, rules, list_ids, exclude_list_ids}, or
 * {reason: "sentence"} when there is nothing to count yet. onProblem(err) gets a 422 (a bad rule).
 */
export function liveCount({ label = "Contacts who match now", onProblem = () => {}, signal } = {}) {
  const value = h("span", { class: "count-value" }, "–");
  const note = h("p", { class: "hint count-note" });
  const el = h("div", { class: "live-count", role: "status", "aria-live": "polite", "aria-atomic": "true" },
    h("p", { class: "count-label" }, label), value, note);
  let generation = 0;
  let timer = null;
  let controller = null;

  function show(text, sentence) {
    value.textContent = text;
    note.textContent = sentence || "";
    note.hidden = !sentence;
  }

  async function run(body, mine) {
    controller?.abort();
    controller = new AbortController();
    const stop = controller.signal;
    signal?.addEventListener("abort", () => controller?.abort(), { once: true });
    let cursor = null;
    el.setAttribute("aria-busy", "true");
    try {
      for (;;) {
        const answer = await api.post("/v1/segments/count", cursor ? { ...body, cursor } : body, { signal: stop });
        if (mine !== generation) return;
        if (answer.complete) {
          show(num(answer.count), answer.count === 1 ? "1 contact, counted just now." : "Counted just now.");
          onProblem(null);
          return;
        }
        show(`${num(answer.count)}+`, "Still counting a big audience…");
        cursor = answer.next_cursor;
      }
    } catch (err) {
      if (err?.name === "AbortError" || mine !== generation) return;
      show("–", `Not counted: ${err.message}`);
      if (err.status === 422) onProblem(err);
    } finally {
      if (mine === generation) el.removeAttribute("aria-busy");
    }
  }

  return {
    el,
    /** Count again after a pause in typing (immediately with now=true). */
    update(input, { now = false } = {}) {
      const mine = ++generation;
      clearTimeout(timer);
      controller?.abort();
      if (!input || input.reason) {
        el.removeAttribute("aria-busy");
        show("–", input?.reason || "");
        return;
      }
      note.textContent = "Counting…";
      note.hidden = false;
      el.setAttribute("aria-busy", "true");
      timer = setTimeout(() => run(input, mine), now ? 0 : WAIT_MS);
    },
  };
}
