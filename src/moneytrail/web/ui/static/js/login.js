// The sign-in form: POST /auth/login, then on to where the user was going.

import { ApiError, login } from "./api.js";
import { $ } from "./dom.js";

function target(user) {
  const next = new URLSearchParams(location.search).get("next");
  // Only a path on this site, never another origin.
  if (next && next.startsWith("/") && !next.startsWith("//")) return next;
  return user.permissions.includes("read_personal") ? "/" : "/corridors";
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("#login-error");
  error.hidden = true;
  try {
    const out = await login($("#username").value.trim(), $("#password").value);
    location.assign(target(out.user));
  } catch (err) {
    error.textContent = err instanceof ApiError && err.status === 401 ? "Wrong username or password." : err.message;
    error.hidden = false;
  }
});
