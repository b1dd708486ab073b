// Every page of the console, in one list: the router reads its paths, the header its `nav` entries.
// Adding a page: write pages/<name>.js (see console/README.md) and add it here.

import account from "./account.js";
import apiKeys from "./api-keys.js";
import automations from "./automations.js";
import campaignEditor from "./campaign-editor.js";
import campaignReport from "./campaign-report.js";
import campaigns from "./campaigns.js";
import contact from "./contact.js";
import domains from "./domains.js";
import forms from "./forms.js";
import list from "./list.js";
import lists from "./lists.js";
import segments from "./segments.js";
import signIn from "./sign-in.js";
import signUp from "./sign-up.js";
import webhooks from "./webhooks.js";

export const pages = [
  signIn, signUp,
  campaigns, campaignEditor, campaignReport,
  automations,
  lists, list, contact, forms,
  segments,
  domains,
  webhooks,
  apiKeys, account,
].flat();
