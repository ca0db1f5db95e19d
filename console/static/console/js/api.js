// The REST side of the client: sign-in, tokens, and every API call.
//
// Tokens: the access token lives only in memory (a variable), so a script reading
// storage cannot take a token that works for long. The refresh token is kept in
// sessionStorage: it survives a reload of this tab (a real client keeps its user signed
// in), it is not shared with other tabs (an instructor in one window and a student in
// another stay two users, and two tabs never race to rotate one refresh token), and it
// is gone when the tab closes. The access token is refreshed at 80% of its lifetime.

const REFRESH_KEY = "collab.refreshToken";

export class ApiError extends Error {
  /** `status` is the HTTP status (0: no answer); `code` the API's stable code; the
   * message is the API's own human message. */
  constructor(status, code, message, fields = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/** What a person reads for any failure: the API's message and, for bad input, which
 * fields and why. Never a stack or "[object Object]". */
export function errorText(error) {
  if (error instanceof ApiError) {
    const parts = [error.message];
    if (error.fields && typeof error.fields === "object") {
      for (const [name, problems] of Object.entries(error.fields)) {
        parts.push(`${name}: ${[].concat(problems).join(" ")}`);
      }
    }
    return parts.join(" ");
  }
  if (error && typeof error.message === "string" && error.message) return error.message;
  return "Something went wrong.";
}

function jwtClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return {};
  }
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // A proxy's HTML page or an empty body: say what happened in plain words.
  }
  const error = body && body.error;
  if (error && typeof error.message === "string") {
    return new ApiError(response.status, error.code || "error", error.message, error.fields || null);
  }
  return new ApiError(response.status, "http_error", `The server answered ${response.status} ${response.statusText}.`);
}

export class Auth extends EventTarget {
  constructor() {
    super();
    this.access = null;
    this.user = null;
    this.refreshing = null;
    this.timer = null;
    this.refreshDueAt = null;
  }

  get refreshToken() {
    return sessionStorage.getItem(REFRESH_KEY);
  }

  set refreshToken(value) {
    if (value) sessionStorage.setItem(REFRESH_KEY, value);
    else sessionStorage.removeItem(REFRESH_KEY);
  }

  get signedIn() {
    return Boolean(this.user);
  }

  async login(email, password) {
    const body = await this.fetchJson("POST", "/api/auth/login", { email, password }, null);
    this.accept(body);
    this.user = body.user;
    this.dispatchEvent(new Event("signed-in"));
  }

  /** After a reload: trade the stored refresh token for a new pair and read who we are.
   * Returns false when there is nothing to restore. */
  async restore() {
    if (!this.refreshToken) return false;
    await this.refresh();
    this.user = await this.request("GET", "/api/auth/me");
    this.dispatchEvent(new Event("signed-in"));
    return true;
  }

  accept({ access, refresh }) {
    this.access = access;
    if (refresh) this.refreshToken = refresh;
    clearTimeout(this.timer);
    const { exp, iat } = jwtClaims(access);
    if (exp) {
      const now = Date.now() / 1000;
      const lifetime = iat ? exp - iat : exp - now;
      const delay = Math.max(1, exp - now - lifetime * 0.2);
      this.refreshDueAt = Date.now() + delay * 1000;
      this.timer = setTimeout(() => this.refresh().catch(() => {}), delay * 1000);
    }
  }

  /** One refresh at a time: concurrent callers share it (a refresh token works once). */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const token = this.refreshToken;
        if (!token) throw this.ended("You are signed out.");
        try {
          this.accept(await this.fetchJson("POST", "/api/auth/refresh", { refresh: token }, null));
        } catch (error) {
          if (error.status === 401) throw this.ended(`Your session has ended: ${error.message} Sign in again.`);
          throw error;
        }
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  ended(message) {
    const wasSignedIn = this.signedIn;
    this.clear();
    if (wasSignedIn) this.dispatchEvent(new CustomEvent("signed-out", { detail: { message } }));
    return new ApiError(401, "signed_out", message);
  }

  async logout() {
    const refresh = this.refreshToken;
    try {
      if (refresh && this.access) await this.request("POST", "/api/auth/logout", { refresh });
    } finally {
      const wasSignedIn = this.signedIn;
      this.clear();
      if (wasSignedIn) this.dispatchEvent(new CustomEvent("signed-out", { detail: { message: null } }));
    }
  }

  clear() {
    clearTimeout(this.timer);
    this.access = null;
    this.user = null;
    this.refreshToken = null;
  }

  /** An authenticated call. A 401 (expired access token) refreshes once and retries.
   * Resolves to the parsed JSON (null for 204), or the Response when `raw`. */
  async request(method, path, body = undefined, { raw = false } = {}) {
    if (!this.access) await this.refresh();
    try {
      return await this.fetchJson(method, path, body, this.access, raw);
    } catch (error) {
      if (error.status !== 401 || path === "/api/auth/logout") throw error;
      await this.refresh();
      return this.fetchJson(method, path, body, this.access, raw);
    }
  }

  async fetchJson(method, path, body, token, raw = false) {
    const headers = { Accept: raw ? "*/*" : "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      throw new ApiError(0, "network_error", "The server cannot be reached. Check your connection and try again.");
    }
    if (!response.ok) throw await errorFrom(response);
    if (raw) return response;
    if (response.status === 204) return null;
    return response.json();
  }
}

/** Query string from an object, leaving out empty values. */
export function qs(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
