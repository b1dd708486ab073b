// The /v1 API from the console: same origin, the session cookie rides along (the browser sends it;
// this script never sees it) and every change carries the session's CSRF token from memory.

import { session } from "./session.js";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || (status === 0 ? "The server did not answer; check the connection."
                                         : `The server answered ${status}.`));
    this.status = status;
    this.code = error.code || "http_" + status;
    this.details = error.details;
  }
}

let onExpired = () => {};
/** What to do when a signed-in request answers 401 (the session ended): set by the router. */
export function whenSessionEnds(callback) { onExpired = callback; }

function headersFor(method, extra) {
  const headers = { Accept: "application/json", ...extra };
  if (!["GET", "HEAD"].includes(method) && session.csrf) headers["X-CSRF-Token"] = session.csrf;
  return headers;
}

function failed(status, body) {
  const err = new ApiError(status, body);
  if (status === 401 && session.account) onExpired(err);
  return err;
}

export async function request(method, path, { json, body, headers = {}, signal } = {}) {
  const h = headersFor(method, headers);
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body, credentials: "same-origin", cache: "no-store", signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, null);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) throw failed(res.status, data);
  return data;
}

export const api = {
  get: (path, opts) => request("GET", path, opts),
  post: (path, json, opts) => request("POST", path, { json: json ?? {}, ...opts }),
  put: (path, json, opts) => request("PUT", path, { json, ...opts }),
  patch: (path, json, opts) => request("PATCH", path, { json, ...opts }),
  del: (path, opts) => request("DELETE", path, opts),
  /** Every item of a paged list endpoint (`{items, next_cursor}`), following the cursor 100 at a time
   * (at most 50 pages). */
  getAll: async (path, opts) => {
    const items = [];
    let cursor = null;
    for (let page = 0; page < 50; page += 1) {
      const query = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const answer = await request("GET", `${path}${path.includes("?") ? "&" : "?"}${query}`, opts);
      items.push(...(answer.items || []));
      cursor = answer.next_cursor;
      if (!cursor) break;
    }
    return { items, next_cursor: cursor || null };
  },
};

/** A path segment from a value (an id, an email address). */
export const seg = (value) => encodeURIComponent(String(value));

/**
 * POST a file with upload progress (fetch reports none): onProgress(sentBytes, totalBytes) while it
 * uploads, then onProgress(total, total, "processing") while the server works on it.
 */
export function upload(path, file, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [name, value] of Object.entries(headersFor("POST", { "Content-Type": contentType }))) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total, e.loaded >= e.total ? "processing" : "uploading");
    });
    xhr.upload.addEventListener("load", () => onProgress(file.size, file.size, "processing"));
    xhr.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(failed(xhr.status, data));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, null)));
    xhr.send(file);
  });
}
