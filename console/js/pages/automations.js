// Automations: welcome and drip sequences. A list page; an editor (name, trigger list, ordered steps
// with their delay in minutes, hours or days, sent as after_seconds); activate / pause; the numbers
// per step, people apart from machines (as the campaign report).

import { api, seg } from "../api.js";
import { append, badge, button, confirmButton, errorNotice, field, form, h, link, notice, section, selectField,
  table, uid } from "../dom.js";
import { num, pct } from "../format.js";
import { flashed, pageHead } from "./common.js";

const UNITS = [
  { value: "60", label: "minutes" },
  { value: "3600", label: "hours" },
  { value: "86400", label: "days" },
];
const MAX_STEPS = 25;
const STATS_REFRESH_MS = 15000;
const STARTER_HTML = `<!doctype html>
<html>
<body>
  <h1>Welcome, {{ contact.first_name or "friend" }}</h1>
  <p>Thanks for joining {{ account.company }}.</p>
  <p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body>
</html>
`;

/** after_seconds as a number and a unit a person reads: 172800 -> [2, "86400"] (2 days). */
export function splitDelay(seconds) {
  const s = Number(seconds) || 0;
  if (s && s % 86400 === 0) return [s / 86400, "86400"];
  if (s && s % 3600 === 0) return [s / 3600, "3600"];
  return [Math.round(s / 60), "60"];
}

/** "right away", "30 minutes", "1 hour", "2 days". */
export function delayWords(seconds) {
  const [n, unit] = splitDelay(seconds);
  if (!n) return "right away";
  const word = { 60: "minute", 3600: "hour", 86400: "day" }[unit];
  return `${num(n)} ${word}${n === 1 ? "" : "s"}`;
}

function waitWords(seconds, index) {
  const words = delayWords(seconds);
  if (index === 0) return words === "right away" ? "right away on entering" : `${words} after entering`;
  return words === "right away" ? "right after the step before" : `${words} after the step before`;
}

// ------------------------------------------------------------------ the list
const listPage = {
  path: "/automations",
  title: "Automations",
  section: "automations",
  nav: { label: "Automations", order: 15 },
  async render(main, ctx) {
    const [{ items }, lists] = await Promise.all([
      api.getAll("/v1/automations", { signal: ctx.signal }), api.getAll("/v1/lists", { signal: ctx.signal })]);
    const listName = new Map(lists.items.map((l) => [l.id, l.name]));
    append(main,
      pageHead("Automations", link("New automation", "#/automations/new", { kind: "primary" })),
      flashed(ctx.message),
      h("p", { class: "lead" }, "Welcome and drip sequences: a contact who becomes subscribed on the trigger list "
        + "while an automation is active gets its steps, each once, after the waits you set."),
      section("Your automations", table({
        caption: "Automations",
        columns: [
          { label: "Name", cell: (a) => link(a.name, `#/automations/${encodeURIComponent(a.id)}`) },
          { label: "Status", cell: (a) => badge(a.status) },
          { label: "Trigger", cell: (a) => `Subscribed on ${listName.get(a.trigger.list_id) ?? "a deleted list"}` },
          { label: "Steps", class: "num", cell: (a) => num(a.steps.length) },
        ],
        rows: items,
        empty: "No automations yet. A welcome sequence is a good first one.",
      })));
  },
};

// ------------------------------------------------------------------ the editor
function stepEditor(step, defaultFrom) {
  const [amount, unit] = splitDelay(step?.after_seconds ?? 0);
  const legend = h("legend", {});
  const f = {
    wait: field({ label: "Wait", type: "number", name: "wait", required: true, value: String(amount),
                  attrs: { min: "0", step: "1", inputmode: "numeric" } }),
    unit: selectField({ label: "Unit", name: "unit", options: UNITS, value: unit }),
    subject: field({ label: "Subject", name: "subject", required: true, value: step?.subject ?? "" }),
    from_email: field({ label: "From email", type: "email", name: "from_email", required: true,
                        value: step?.from_email ?? defaultFrom,
                        hint: "An address on a verified sender domain of your account." }),
    from_name: field({ label: "From name", name: "from_name", value: step?.from_name ?? "" }),
    html: field({ label: "HTML", name: "html", required: true, multiline: true, rows: 8,
                  value: step?.html ?? STARTER_HTML, attrs: { spellcheck: "false", class: "code" },
                  hint: "A template as a campaign's: {{ contact.email }}, {{ unsubscribe_url }}, … Links are tracked." }),
    text: field({ label: "Plain text", name: "text", multiline: true, rows: 4, value: step?.text ?? "",
                  attrs: { spellcheck: "false", class: "code" } }),
  };
  const waitHint = h("p", { class: "hint" });
  const controls = h("div", { class: "actions step-actions" });
  const wrap = h("fieldset", { class: "step" }, legend,
    h("div", { class: "delay" }, f.wait.wrap, f.unit.wrap), waitHint,
    f.subject.wrap, f.from_email.wrap, f.from_name.wrap, f.html.wrap, f.text.wrap, controls);
  const seconds = () => Math.max(0, Math.round(Number(f.wait.input.value) || 0)) * Number(f.unit.input.value);
  return {
    id: uid("step"), wrap, f, legend, waitHint, controls,
    fields: [f.wait, f.subject, f.from_email, f.from_name, f.html, f.text],
    seconds,
    value: () => ({
      after_seconds: seconds(),
      subject: f.subject.input.value.trim(),
      from_email: f.from_email.input.value.trim(),
      from_name: f.from_name.input.value.trim() || null,
      html: f.html.input.value,
      text: f.text.input.value.trim() ? f.text.input.value : null,
    }),
  };
}

function stepsEditor(initial, defaultFrom, disabled) {
  const steps = [];
  const holder = h("div", { class: "steps" });
  const addButton = button("Add a step", () => {
    const last = steps[steps.length - 1];
    const made = stepEditor({ after_seconds: 86400, from_email: last?.f.from_email.input.value || defaultFrom,
                              from_name: last?.f.from_name.input.value || "" }, defaultFrom);
    steps.push(made);
    draw();
    made.f.wait.input.focus();
  });
  function move(step, by) {
    const i = steps.indexOf(step);
    steps.splice(i, 1);
    steps.splice(i + by, 0, step);
    draw();
  }
  function words() {
    steps.forEach((s, i) => {
      s.legend.textContent = `Step ${i + 1}`;
      s.f.wait.wrap.querySelector("label").textContent = i === 0 ? "Wait after entering" : "Wait after the step before";
      s.waitHint.textContent = `Sent ${waitWords(s.seconds(), i)}.`;
    });
  }
  function draw() {
    words();
    steps.forEach((s, i) => {
      s.controls.replaceChildren(...(disabled ? [] : [
        i > 0 ? button(["Move up", h("span", { class: "sr-only" }, ` step ${i + 1}`)], () => move(s, -1),
                       { kind: "small" }) : null,
        i < steps.length - 1 ? button(["Move down", h("span", { class: "sr-only" }, ` step ${i + 1}`)],
                                      () => move(s, 1), { kind: "small" }) : null,
        steps.length > 1 ? button(["Remove", h("span", { class: "sr-only" }, ` step ${i + 1}`)], () => {
          steps.splice(steps.indexOf(s), 1);
          draw();
        }, { kind: "small" }) : null,
      ].filter(Boolean)));
    });
    holder.replaceChildren(...steps.map((s) => s.wrap));
    addButton.disabled = steps.length >= MAX_STEPS;
  }
  for (const step of initial.length ? initial : [{ after_seconds: 0 }]) steps.push(stepEditor(step, defaultFrom));
  holder.addEventListener("input", words);
  holder.addEventListener("change", words);
  draw();
  if (disabled) {
    for (const el of holder.querySelectorAll("input, select, textarea")) el.disabled = true;
  }
  return {
    wrap: h("div", {}, holder, disabled ? null : h("div", { class: "actions" }, addButton)),
    steps,
    values: () => steps.map((s) => s.value()),
    // the API names a step's field as steps[1].subject (the domain's check) or steps.1.subject (a rule of the
    // body's schema, checked first): the field of that step
    /** The first step field a person must fix (marked), or null. */
    invalid() {
      for (const s of steps) for (const f of s.fields) f.setError("");
      const bad = steps.flatMap((s) => s.fields).find((f) => !f.input.checkValidity());
      if (bad) bad.setError(bad.input.validationMessage);
      return bad || null;
    },
    fieldFor(name) {
      const found = /^steps(?:\[(\d+)\]|\.(\d+))\.(\w+)$/.exec(name || "");
      const s = found && steps[Number(found[1] ?? found[2])];
      if (!s) return null;
      return s.f[found[3] === "after_seconds" ? "wait" : found[3]] || s.f.subject;
    },
  };
}

function figure(label, value, rate) {
  const id = uid("figure");
  return h("div", { class: "figure" },
    h("dt", { id }, label),
    h("dd", { "aria-labelledby": id, class: "value" }, num(value)),
    rate ? h("dd", { class: "rate" }, rate) : null);
}

/** A count of people, and its share of the delivered (or sent) emails below it. */
function rated(value, step) {
  const base = step.delivered || step.sent;
  return h("span", {}, num(value), base ? h("span", { class: "muted rate-line" }, pct(value, base)) : null);
}

function statsView(stats) {
  return [
    h("dl", { class: "figures" },
      figure("Entered", stats.entered),
      figure("In the sequence", stats.active),
      figure("Completed", stats.completed),
      figure("Left early", stats.exited)),
    h("p", { class: "hint" }, "People are counted apart from machines: Apple Mail Privacy Protection, image proxies "
      + "and link scanners open and click too, and are shown as machine opens and clicks."),
    h("div", { class: "step-stats" }, table({
      caption: "Numbers per step",
      columns: [
        { label: "Step", class: "step-name", cell: (s) => h("span", {}, `${s.step}. `, s.subject, h("br"),
          h("span", { class: "muted" }, waitWords(s.after_seconds, s.step - 1))) },
        { label: "Sent", class: "num", cell: (s) => num(s.sent) },
        { label: "Delivered", class: "num", cell: (s) => num(s.delivered) },
        { label: "Opened by people", class: "num", cell: (s) => rated(s.opens?.human_unique, s) },
        { label: "Machine opens", class: "num", cell: (s) => num(s.opens?.machine) },
        { label: "Clicked by people", class: "num", cell: (s) => rated(s.clicks?.human_unique, s) },
        { label: "Machine clicks", class: "num", cell: (s) => num(s.clicks?.machine) },
        { label: "Unsubscribed", class: "num", cell: (s) => num(s.unsubscribed) },
      ],
      rows: stats.steps,
    })),
  ];
}

async function editor(main, ctx) {
  const isNew = !ctx.params.id;
  const path = isNew ? null : `/v1/automations/${seg(ctx.params.id)}`;
  const [automation, listAnswer, domainAnswer, stats] = await Promise.all([
    isNew ? null : api.get(path, { signal: ctx.signal }),
    api.getAll("/v1/lists", { signal: ctx.signal }),
    api.get("/v1/domains", { signal: ctx.signal }),
    isNew ? null : api.get(`${path}/stats`, { signal: ctx.signal }),
  ]);
  const lists = listAnswer.items;
  const verified = domainAnswer.items.find((d) => d.status === "verified") || domainAnswer.items[0];
  const defaultFrom = verified ? `hello@${verified.domain}` : "";
  const active = automation?.status === "active";
  if (automation) document.title = `${automation.name} · Automations · Beacon`;

  const name = field({ label: "Automation name", name: "name", required: true, value: automation?.name ?? "",
                       hint: "For you; recipients do not see it." });
  const trigger = selectField({
    label: "Trigger list", name: "list_id", value: automation?.trigger.list_id ?? lists[0]?.id ?? "",
    hint: "A contact who becomes subscribed on this list (API, form signup once confirmed, an import that asks for "
      + "it) enters the automation while it is active.",
    options: [{ value: "", label: "Choose a list" }, ...lists.map((l) => ({ value: l.id, label: l.name }))],
  });
  const steps = stepsEditor(automation?.steps ?? [], defaultFrom, active);
  if (active) { name.input.disabled = true; trigger.input.disabled = true; }
  const fieldMap = { name, trigger, "trigger.list_id": trigger };
  const stepsField = { wrap: h("fieldset", { class: "field" }, h("legend", {}, "Steps"),
    h("p", { class: "hint" }, "Each step is an email, sent after its wait (the first after the contact enters)."),
    steps.wrap) };
  const editorForm = form({
    label: "Automation", fields: [name, trigger, stepsField],
    submit: isNew ? "Create automation" : "Save changes", fieldMap,
    async onSubmit() {
      const bad = steps.invalid();
      if (bad) {
        bad.input.focus();
        return;
      }
      if (!trigger.input.value) {
        trigger.setError("Choose the list whose new subscribers enter it.");
        trigger.input.focus();
        return;
      }
      const body = { name: name.input.value.trim(), trigger: { type: "subscribed", list_id: trigger.input.value },
                     steps: steps.values() };
      try {
        const saved = isNew ? await api.post("/v1/automations", body) : await api.patch(path, body);
        ctx.flash(isNew ? `The automation “${saved.name}” is saved as a draft. Activate it when it is ready.`
                        : "The automation is saved.");
        ctx.navigate(`#/automations/${encodeURIComponent(saved.id)}`);
      } catch (err) {
        for (const d of Array.isArray(err?.details) ? err.details : []) {
          const f = d && steps.fieldFor(d.field);
          if (f) f.setError(String(d.message || err.message));
        }
        throw err;
      }
    },
  });
  if (active) editorForm.querySelector(":scope > .actions")?.remove(); // read only while active: no Save

  append(main,
    h("p", { class: "crumbs" }, link("Automations", "#/automations"), " / "),
    pageHead(automation ? automation.name : "New automation", automation ? statusActions() : null),
    automation ? h("p", { class: "lead" }, badge(automation.status), ` ${automation.steps.length} `
      + `step${automation.steps.length === 1 ? "" : "s"}, for new subscribers of `
      + `${lists.find((l) => l.id === automation.trigger.list_id)?.name ?? "a deleted list"}.`) : null,
    flashed(ctx.message),
    lists.length ? null : notice("warning", h("p", {}, "An automation starts from a list: ",
      link("create a list", "#/lists"), " first.")),
    domainAnswer.items.length ? null : notice("warning", h("p", {}, "Steps send only from a verified domain: ",
      link("add a sender domain", "#/domains"), " first.")));
  const statusResult = h("div", { "aria-live": "polite" });
  if (automation) {
    const numbers = h("div", {}, statsView(stats));
    append(main, statusResult, section("Numbers", numbers));
    if (active) {
      ctx.every(STATS_REFRESH_MS, async () => {
        numbers.replaceChildren(...statsView(await api.get(`${path}/stats`, { signal: ctx.signal })));
      });
    }
  }
  append(main,
    section(isNew ? "Write the automation" : "Steps and settings",
      active ? notice("info", h("p", {}, "It is active: pause it to change it. People already in it keep their place "
        + "(step n is never sent twice to anyone).")) : null,
      editorForm));
  if (automation) {
    append(main, section("Delete", confirmButton("Delete automation",
      `Delete “${automation.name}”? Pending steps are never sent.`, "Delete it", async () => {
        await api.del(path);
        ctx.flash(`The automation “${automation.name}” was deleted.`);
        ctx.navigate("#/automations");
      })));
  }

  function statusActions() {
    async function change(verb) {
      statusResult.replaceChildren();
      try {
        await api.post(`${path}/${verb}`);
        ctx.flash(verb === "activate" ? "The automation is active: new subscribers of its list enter it."
                                      : "The automation is paused: nobody enters it and no step is sent.");
        ctx.navigate(location.hash);
      } catch (err) {
        const shown = errorNotice(err);
        if (err?.code === "postal_address_required") {
          shown.append(h("p", {}, "Every step email ends with your postal address: ",
            link("add it under Account", "#/account"), "."));
        }
        statusResult.replaceChildren(shown);
      }
    }
    return active ? button("Pause", () => change("pause"))
                  : button("Activate", () => change("activate"), { kind: "primary" });
  }
}

export default [
  listPage,
  { path: "/automations/new", title: "New automation", section: "automations", render: editor },
  { path: "/automations/:id", title: "Automation", section: "automations", render: editor },
];
