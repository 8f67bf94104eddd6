// The REST API as the pages use it: the session cookie travels by itself; POSTs carry the
// CSRF token that login (or GET /me) handed out. Errors become ApiError with the server's
// one-line `detail`, which the pages show as they are.

const BASE = "/api/v1";
let csrfToken = sessionStorage.getItem("mt-csrf") || "";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "" && value !== false) q.set(key, value);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

async function request(method, path, { params, body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(BASE + path + query(params), {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && path !== "/auth/login") {
    const next = encodeURIComponent(location.pathname + location.search);
    location.assign(`/login?next=${next}`);
    throw new ApiError(401, "signed out");
  }
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const data = await response.json();
      if (data && data.detail) detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  return response;
}

export async function get(path, params) {
  return (await request("GET", path, { params })).json();
}

export async function post(path, body) {
  return (await request("POST", path, { body: body === undefined ? {} : body })).json();
}

/** Fetch a file the API serves and hand it to the browser as a download. */
export async function download(path, filename) {
  const response = await request("GET", path);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function rememberCsrf(token) {
  csrfToken = token || "";
  sessionStorage.setItem("mt-csrf", csrfToken);
}

export async function login(username, password) {
  const out = await post("/auth/login", { username, password });
  rememberCsrf(out.csrf_token);
  return out;
}

export async function logout() {
  try { await post("/auth/logout"); } finally { rememberCsrf(""); }
}

/** The signed-in user (and a fresh CSRF token), or a redirect to the login page. */
export async function me() {
  const out = await get("/me");
  rememberCsrf(out.csrf_token);
  return out.user;
}
