import { api, seg, upload } from "../api.js";
import {
  append, badge, button, clear, confirmButton, errorNotice, field, form, h, notice, section, table, uid,
} from "../dom.js";
import { num, when } from "../format.js";
import { flashed, pageHead } from "./common.js";

const PAGE_SIZE = 50;
const MAX_IMPORT_BYTES = 9 * 1024 * 1024;

function attributesText(attributes) {
  return Object.entries(attributes || {}).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" · ");
}

/** "name: value" lines -> {name: value}; a line without a colon is an error naming it. */
export function parseAttributes(text) {
  const out = {};
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const at = line.indexOf(":");
    if (at < 1) throw Object.assign(new Error(`Attributes, line ${i + 1}: write it as name: value`), { details: [] });
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  });
  return out;
}

function summary(result, fileName) {
  const skipped = result.skipped || [];
  const skippedCount = result.skipped_count ?? skipped.length; // a background import lists the first 1,000
  const omitted = result.skipped_omitted || 0;
  return h("div", { class: "import-summary" },
    notice(skippedCount ? "warning" : "success",
      h("p", {}, h("strong", {}, `Imported ${fileName}: `),
        `${num(result.created)} new, ${num(result.updated)} updated, ${num(skippedCount)} skipped.`
        + (omitted ? ` The first ${num(skipped.length)} skipped rows are listed; ${num(omitted)} more are not.` : ""))),
    skipped.length ? table({
      caption: "Skipped rows",
      columns: [
        { label: "Row", class: "num", cell: (s) => String(s.row ?? (s.index !== undefined ? s.index + 1 : "–")) },
        { label: "Email", rowHeader: false, cell: (s) => s.email ?? "–" },
        { label: "Reason", cell: (s) => s.reason },
      ],
      rows: skipped,
    }) : null);
}

const POLL_MS = 1000;

function importSection(list, ctx, refresh) {
  const id = uid("csv");
  const input = h("input", { id, type: "file", name: "file", accept: ".csv,.txt,.tsv,text/csv,text/plain",
                             "aria-describedby": `${id}-hint` });
  const progressId = uid("progress");
  const progress = h("progress", { id: progressId, max: "100", value: "0" });
  const progressText = h("span", { class: "progress-text" });
  const progressBox = h("div", { class: "progress", hidden: true },
    h("label", { for: progressId }, "Import progress"), progress, progressText);
  const result = h("div", { class: "import-result", "aria-live": "polite" });
  /** A big file is imported in the background (202 with a job): poll it, filling the bar, until done. */
  async function followJob(job) {
    for (;;) {
      if (job.total) {
        progress.max = job.total;
        progress.value = job.done;
      }
      progressText.textContent = job.total
        ? `Importing… ${num(job.done)} of ${num(job.total)} rows`
        : "Importing…";
      if (job.status === "done") return job.result;
      if (job.status === "failed") throw new Error(`The import stopped: ${job.error || "unknown error"}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (ctx.signal && ctx.signal.aborted) throw new Error("The page was left; the import goes on.");
      job = await api.get(`/v1/jobs/${seg(job.id)}`, { signal: ctx.signal });
    }
  }
  const go = button("Import", async () => {
    clear(result);
    const file = input.files && input.files[0];
    if (!file) {
      result.append(notice("error", h("p", {}, "Choose a CSV file first.")));
      input.focus();
      return;
    }
    if (file.size > MAX_IMPORT_BYTES) {
      result.append(notice("error", h("p", {}, `${file.name} is larger than 9 MB: split it into smaller files.`)));
      return;
    }
    go.disabled = true;
    progressBox.hidden = false;
    progress.value = 0;
    progress.max = 100;
    progressText.textContent = "Uploading…";
    try {
      const answer = await upload(`/v1/lists/${seg(list.id)}/imports`, file, "text/csv", (sent, total, phase) => {
        if (phase === "processing") {
          progress.removeAttribute("value"); // indeterminate while the server reads the rows
          progressText.textContent = `Uploaded ${num(Math.round(total / 1024))} KB; importing the rows…`;
        } else {
          progress.value = total ? Math.round((100 * sent) / total) : 0;
          progressText.textContent = `Uploading… ${progress.value} %`;
        }
      });
      const summaryOf = answer && answer.kind === "import_contacts" ? await followJob(answer) : answer;
      progress.max = 100;
      progress.value = 100;
      progressText.textContent = "Done";
      result.append(summary(summaryOf, file.name));
      await refresh();
    } catch (err) {
      progressBox.hidden = true;
      result.append(errorNotice(err));
    } finally {
      go.disabled = false;
    }
  }, { kind: "primary" });
  return section("Import contacts from a CSV file",
    h("div", { class: "field" },
      h("label", { for: id }, "CSV file"),
      h("p", { class: "hint", id: `${id}-hint` },
        "One contact a row with an email column; other columns become attributes. Excel, Google and Outlook "
        + "exports work as they are. Up to 9 MB."),
      input),
    h("div", { class: "actions" }, go),
    progressBox, result);
}

function addContactSection(list, refresh) {
  const email = field({ label: "Email", type: "email", name: "email", required: true });
  const attributes = field({ label: "Attributes", name: "attributes", multiline: true, rows: 3,
                             hint: "One per line, as name: value (for example first_name: Ada)." });
  const result = h("div", { "aria-live": "polite" });
  return section("Add a contact", form({
    label: "Add a contact", fields: [email, attributes], submit: "Add contact", fieldMap: { email },
    extra: [result],
    async onSubmit() {
      clear(result);
      const entry = { email: email.input.value.trim(), attributes: parseAttributes(attributes.input.value) };
      const answer = await api.put(`/v1/lists/${seg(list.id)}/contacts`, [entry]);
      if ((answer.skipped || []).length) {
        result.append(notice("error", h("p", {}, `Not added: ${answer.skipped[0].reason}`)));
        return;
      }
      email.input.value = "";
      attributes.input.value = "";
      const done = answer.created ? `${entry.email} added.` : `${entry.email} updated.`;
      result.append(notice("success", h("p", {}, done)));
      await refresh();
    },
  }));
}

function contactsSection(list, ctx) {
  const body = h("div", {});
  const cursors = [null]; // the cursor of each page seen so far
  let pageIndex = 0;
  const heading = section("Contacts", body);
  async function load() {
    const cursor = cursors[pageIndex];
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) query.set("cursor", cursor);
    const page = await api.get(`/v1/lists/${seg(list.id)}/contacts?${query}`, { signal: ctx.signal });
    cursors[pageIndex + 1] = page.next_cursor;
    const prev = button("Previous page", async () => { pageIndex -= 1; await load(); });
    const next = button("Next page", async () => { pageIndex += 1; await load(); });
    prev.disabled = pageIndex === 0;
    next.disabled = !page.next_cursor;
    append(clear(body), 
      table({
        caption: "Contacts",
        columns: [
          { label: "Email", cell: (c) => h("a", { href: `#/contacts/${encodeURIComponent(c.email)}` }, c.email) },
          { label: "Status", cell: (c) => badge(c.status) },
          { label: "Attributes", cell: (c) => attributesText(c.attributes) },
          { label: "Added", cell: (c) => when(c.created_at) },
        ],
        rows: page.items,
        empty: pageIndex ? "No more contacts." : "No contacts yet: import a CSV file or add one above.",
      }),
      page.items.length || pageIndex ? h("nav", { class: "pager", "aria-label": "Contact pages" },
        prev, h("span", {}, `Page ${pageIndex + 1}`), next) : null);
  }
  return { el: heading, load: async () => { cursors.length = 1; pageIndex = 0; await load(); } };
}

function manageSection(list, ctx) {
  const name = field({ label: "List name", name: "name", required: true, value: list.name });
  return section("Manage the list",
    form({
      label: "Rename the list", fields: [name], submit: "Rename list", kind: "secondary", fieldMap: { name },
      async onSubmit() {
        await api.patch(`/v1/lists/${seg(list.id)}`, { name: name.input.value.trim() });
        ctx.flash("The list was renamed.");
        ctx.navigate(location.hash);
      },
    }),
    confirmButton("Delete list", `Delete “${list.name}”? Its contacts stay in your account and on their other lists.`,
      "Delete the list", async () => {
        await api.del(`/v1/lists/${seg(list.id)}`);
        ctx.flash(`The list “${list.name}” was deleted.`);
        ctx.navigate("#/lists");
      }));
}

export default {
  path: "/lists/:id",
  title: "List",
  section: "lists",
  async render(main, ctx) {
    let list = await api.get(`/v1/lists/${seg(ctx.params.id)}`, { signal: ctx.signal });
    document.title = `${list.name} · Beacon`;
    const count = h("p", { class: "lead" });
    const showCount = () => { count.textContent = `${num(list.contact_count)} contacts`; };
    showCount();
    const contacts = contactsSection(list, ctx);
    const refresh = async () => {
      list = await api.get(`/v1/lists/${seg(list.id)}`, { signal: ctx.signal });
      showCount();
      await contacts.load();
    };
    append(main, 
      h("p", { class: "crumbs" }, h("a", { href: "#/lists" }, "Lists"), " / "),
      pageHead(list.name),
      count,
      flashed(ctx.message),
      h("div", { class: "columns" }, importSection(list, ctx, refresh), addContactSection(list, refresh)),
      contacts.el,
      manageSection(list, ctx),
    );
    await contacts.load();
  },
};
