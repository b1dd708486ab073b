// The segment rule language in words and in form controls: what the segments page, the campaign
// editor and the report share. The rules themselves are the API's (docs/api.md, "Segments and
// targeting"); this module only names them for people and turns a form row into {field, op, value}.

import { h, sr, uid } from "../dom.js";

export const KINDS = [
  { kind: "email", label: "Email address" },
  { kind: "attributes", label: "Attribute" },
  { kind: "subscribed_at", label: "Date added" },
  { kind: "campaign", label: "A campaign" },
];

// op -> words, and what its value is: none, text, list (comma-separated), number-or-date, date, days
export const OPS = {
  eq: { label: "is", value: "text" },
  ne: { label: "is not", value: "text" },
  in: { label: "is one of", value: "list" },
  contains: { label: "contains", value: "text" },
  starts_with: { label: "starts with", value: "text" },
  ends_with: { label: "ends with", value: "text" },
  gt: { label: "is greater than or after", value: "order" },
  lt: { label: "is less than or before", value: "order" },
  exists: { label: "is set", value: "none" },
  not_exists: { label: "is not set", value: "none" },
  within_days: { label: "is within the last … days", value: "days" },
  before_days: { label: "is more than … days ago", value: "days" },
  opened: { label: "opened it", value: "none" },
  not_opened: { label: "was sent it, did not open it", value: "none" },
  clicked: { label: "clicked in it", value: "none" },
  not_clicked: { label: "was sent it, did not click", value: "none" },
};

const DATE_OPS = { gt: "is after", lt: "is before" };

export const KIND_OPS = {
  email: ["eq", "ne", "in", "contains", "starts_with", "ends_with"],
  attributes: ["eq", "ne", "in", "contains", "starts_with", "ends_with", "gt", "lt", "exists", "not_exists",
               "within_days", "before_days"],
  subscribed_at: ["gt", "lt", "within_days", "before_days"],
  campaign: ["opened", "not_opened", "clicked", "not_clicked"],
};

export const opLabel = (kind, op) => (kind === "subscribed_at" && DATE_OPS[op]) || OPS[op]?.label || op;

/** "attributes.plan" -> {kind: "attributes", name: "plan"}; "campaign:abc" -> {kind: "campaign", name: "abc"}. */
export function splitField(fieldName) {
  const f = String(fieldName || "");
  if (f.startsWith("attributes.")) return { kind: "attributes", name: f.slice("attributes.".length) };
  if (f.startsWith("campaign:")) return { kind: "campaign", name: f.slice("campaign:".length) };
  return { kind: f === "subscribed_at" ? "subscribed_at" : "email", name: "" };
}

const shown = (value) => (Array.isArray(value) ? value.map((v) => `“${v}”`).join(", ")
  : typeof value === "string" ? `“${value}”` : String(value));

/** One rule in words, e.g. "email ends with “@example.com”", "opened “Spring menu”". */
export function describeRule(rule, campaignName = (id) => id) {
  const { kind, name } = splitField(rule.field);
  const op = OPS[rule.op] ? rule.op : null;
  if (kind === "campaign") {
    const what = { opened: "opened", not_opened: "did not open", clicked: "clicked in",
                   not_clicked: "did not click in" }[rule.op] || rule.op;
    return `${what} “${campaignName(name)}”`;
  }
  const subject = kind === "attributes" ? name : kind === "subscribed_at" ? "date added" : "email";
  if (!op) return `${subject} ${rule.op} ${shown(rule.value)}`;
  if (rule.op === "within_days") return `${subject} is within the last ${rule.value} days`;
  if (rule.op === "before_days") return `${subject} is more than ${rule.value} days ago`;
  const words = opLabel(kind, rule.op);
  return OPS[rule.op].value === "none" ? `${subject} ${words}` : `${subject} ${words} ${shown(rule.value)}`;
}

/** A segment in words: "all of: a; b" / "any of: a; b" / "everyone". */
export function describeSegment(segment, campaignName) {
  const rules = segment?.rules || [];
  if (!rules.length) return "everyone on the chosen lists";
  if (rules.length === 1) return describeRule(rules[0], campaignName);
  const joiner = segment.match === "any" ? " or " : " and ";
  return rules.map((r) => describeRule(r, campaignName)).join(joiner);
}

/** A number as the API compares numbers: "42", "-1.5", "1e3"; anything else stays text. */
const NUMBER = /^\s*-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

/**
 * One rule as form controls: {el, read(), setError(part, message), focus()}. read() is
 * {rule} when complete, {missing: "sentence"} when not. `original` is the rule as stored, so a value
 * the person did not touch keeps its JSON type (a number stays a number).
 */
export function ruleRow({ index, original, campaigns, onChange, onRemove }) {
  const base = uid("rule");
  const start = splitField(original?.field);
  const control = (tag, label, props, ...children) => {
    const id = `${base}-${label.toLowerCase().replace(/[^a-z]+/g, "-")}`;
    const input = h(tag, { id, ...props }, ...children);
    const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
    const wrap = h("div", { class: "field rule-part" }, h("label", { for: id }, label), input, error);
    return { wrap, input, error, label };
  };
  const kind = control("select", "Field", { name: "kind" },
    KINDS.map((k) => h("option", { value: k.kind, selected: k.kind === start.kind }, k.label)));
  const attribute = control("input", "Attribute name", { type: "text", name: "attribute", value: "",
                                                           placeholder: "first_name", spellcheck: "false" });
  attribute.input.value = start.kind === "attributes" ? start.name : "";
  const campaign = control("select", "Campaign", { name: "campaign" },
    h("option", { value: "" }, "Choose a campaign"),
    campaigns.map((c) => h("option", { value: c.id, selected: start.kind === "campaign" && c.id === start.name },
                           `${c.name} (${c.status})`)));
  const op = control("select", "Condition", { name: "op" });
  const value = control("input", "Value", { type: "text", name: "value" });
  const hint = h("p", { class: "hint rule-hint" });
  const removeButton = h("button", { type: "button", class: "button small danger", onclick: () => onRemove() },
    "Remove", sr(` rule ${index + 1}`));
  const legend = h("legend", {}, `Rule ${index + 1}`);
  const el = h("fieldset", { class: "rule" }, legend,
    h("div", { class: "rule-grid" }, kind.wrap, attribute.wrap, campaign.wrap, op.wrap, value.wrap),
    hint, h("div", { class: "actions" }, removeButton));
  const untouched = original && original.value !== undefined && original.value !== null
    ? { op: original.op, text: Array.isArray(original.value) ? original.value.join(", ") : String(original.value),
        value: original.value }
    : null;

  function fillOps(selected) {
    const k = kind.input.value;
    op.input.replaceChildren(...KIND_OPS[k].map((o) => h("option", { value: o, selected: o === selected },
                                                         opLabel(k, o))));
    if (!KIND_OPS[k].includes(selected)) op.input.value = KIND_OPS[k][0];
  }
  function shape() {
    const k = kind.input.value;
    const what = OPS[op.input.value]?.value || "text";
    attribute.wrap.hidden = k !== "attributes";
    campaign.wrap.hidden = k !== "campaign";
    value.wrap.hidden = what === "none";
    const valueLabel = value.wrap.querySelector("label");
    const types = { text: "text", list: "text", order: k === "subscribed_at" ? "date" : "text", days: "number" };
    value.input.type = types[what] || "text";
    if (what === "days") { value.input.min = "0"; value.input.max = "36500"; value.input.step = "1"; }
    else { value.input.removeAttribute("min"); value.input.removeAttribute("max"); value.input.removeAttribute("step"); }
    valueLabel.textContent = { list: "Values", days: "Days", order: k === "subscribed_at" ? "Date" : "Value" }[what]
      || "Value";
    hint.textContent = k === "campaign"
      ? "Opened and clicked mean a person did: Apple Mail Privacy Protection, image proxies and link scanners "
        + "do not count. “Did not” means the campaign was sent to them."
      : what === "list" ? "Separate the values with commas."
      : what === "order" && k === "attributes" ? "A number (42, 4.5) compares as a number; a date as YYYY-MM-DD."
      : what === "text" ? "Text compares ignoring upper and lower case."
      : "";
    hint.hidden = !hint.textContent;
  }
  fillOps(start.kind === KINDS[0].kind && !original ? "eq" : original?.op);
  if (untouched) value.input.value = untouched.text;
  shape();
  kind.input.addEventListener("change", () => { fillOps(op.input.value); shape(); });
  op.input.addEventListener("change", shape);
  el.addEventListener("input", () => onChange());
  el.addEventListener("change", () => onChange());

  const parts = { kind, attribute, campaign, op, value };
  /** part: the API's name for it ("field", "op", "value") or one of parts' own names. */
  function setError(part, message) {
    const k = kind.input.value;
    const p = part === "field" ? (k === "attributes" ? attribute : k === "campaign" ? campaign : kind)
      : parts[part] || value;
    p.error.textContent = message || "";
    p.error.hidden = !message;
    if (message) {
      p.input.setAttribute("aria-invalid", "true");
      p.input.setAttribute("aria-describedby", p.error.id);
    } else {
      p.input.removeAttribute("aria-invalid");
      p.input.removeAttribute("aria-describedby");
    }
    return p;
  }
  function clearErrors() { for (const name of Object.keys(parts)) setError(name, ""); }

  function read() {
    const k = kind.input.value;
    const o = op.input.value;
    const what = OPS[o]?.value || "text";
    let fieldName = k;
    if (k === "attributes") {
      const name = attribute.input.value.trim();
      if (!name) return { missing: "an attribute name", part: "attribute" };
      fieldName = `attributes.${name}`;
    }
    if (k === "campaign") {
      if (!campaign.input.value) return { missing: "a campaign", part: "campaign" };
      fieldName = `campaign:${campaign.input.value}`;
    }
    if (what === "none") return { rule: { field: fieldName, op: o } };
    const text = value.input.value;
    if (!text.trim()) return { missing: `a ${value.wrap.querySelector("label").textContent.toLowerCase()}`, part: "value" };
    let v;
    if (untouched && untouched.op === o && untouched.text === text) v = untouched.value;
    else if (what === "list") v = text.split(",").map((x) => x.trim()).filter(Boolean);
    else if (what === "days") v = Number(text);
    else if (what === "order" && k === "attributes" && NUMBER.test(text)) v = Number(text);
    else v = what === "order" ? text.trim() : text;
    return { rule: { field: fieldName, op: o, value: v } };
  }

  return {
    el, read, setError, clearErrors,
    renumber(i) {
      legend.textContent = `Rule ${i + 1}`;
      removeButton.lastChild.textContent = ` rule ${i + 1}`;
    },
    focus() { kind.input.focus(); },
    focusPart(part) { (parts[part] || kind).input.focus(); },
  };
}
