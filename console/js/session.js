// The signed-in account, in memory only. The session token itself lives in an HttpOnly cookie that
// no script can read; the CSRF token is read from the API after sign-in or a reload and kept here.

import { api } from "./api.js";

export const session = { account: null, csrf: null };

/** Pick up the cookie's session after a reload: true when signed in. */
export async function restore() {
  try {
    const me = await api.get("/v1/session");
    session.account = me.account;
    session.csrf = me.csrf_token || null;
    return true;
  } catch (err) {
    if (err.status === 401) {
      forget();
      return false;
    }
    throw err;
  }
}

export async function signIn(email, password) {
  const answer = await api.post("/v1/sessions", { email, password, cookie: true });
  session.csrf = answer.csrf_token;
  await restore();
}

export async function signOut() {
  try {
    await api.del("/v1/session");
  } finally {
    forget();
  }
}

export function forget() {
  session.account = null;
  session.csrf = null;
}
