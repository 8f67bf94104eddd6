// What every page shares: the sign-out button, the signed-in user (and the CSRF token the
// page's POSTs need), and one banner for errors. The server has already checked that the
// user's role may see the page; the API checks every request again.

import { logout, me } from "./api.js";
import { $, flash } from "./dom.js";

export function can(user, permission) {
  return user.permissions.includes(permission);
}

const signOut = $("#logout");
if (signOut) {
  signOut.addEventListener("click", async () => {
    try { await logout(); } finally { location.assign("/login"); }
  });
}

/** Run a page's body with the signed-in user; an error from the API is shown in the banner. */
export async function runPage(body) {
  let user;
  try {
    user = await me();
  } catch (err) {
    if (err.status !== 401) flash(`Cannot reach the server: ${err.message}`);
    return;
  }
  try {
    await body(user);
    document.body.dataset.ready = "1"; // the page has drawn what the API answered
  } catch (err) {
    flash(err.message || String(err));
    throw err;
  }
}
