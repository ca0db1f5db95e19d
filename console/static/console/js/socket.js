// The one socket to /ws/, as docs/protocol.md asks a browser to use it:
// - opened with a single-use ticket from POST /api/auth/ws-ticket (never a JWT in a URL);
// - every request frame carries a `ref` and resolves with its `ack` or rejects with its
//   `error` (the API's code and human message);
// - reconnects with exponential backoff and jitter (0.5 s doubling up to 30 s), at once
//   when the browser comes back online;
// - keeps its presence lease with `presence-heartbeat` at half the lease's lifetime;
// - tracks the last `seq` seen per room, drops frames already seen, and after a
//   reconnect sends `resume` with those seqs. Rooms the server resumes need nothing more;
//   rooms it answers with `resync`, and every room when `resume` is refused (a server
//   without it), are reloaded over REST (after re-entering the room), so the page shows
//   what it missed either way. Until the resume is answered, a live frame that skips
//   seqs of a room (the server joined the socket to its course rooms on connect, before
//   the resume) waits: the replay brings the ones between first, then it is shown.

import { ApiError } from "./api.js";

const MAX_BACKOFF_MS = 30000;
const REQUEST_TIMEOUT_MS = 15000;
export const CLOSE_LOGGED_OUT = 4000;

export class Socket extends EventTarget {
  constructor(auth) {
    super();
    this.auth = auth;
    this.ws = null;
    this.state = "idle";
    this.stopped = true;
    this.attempt = 0;
    this.everOpened = false;
    this.nextRef = 1;
    this.pending = new Map();
    this.handlers = new Map();
    this.lastSeq = new Map();
    this.lastId = new Map(); // the id of the frame lastSeq, sent with `resume`
    this.rooms = new Map();
    this.recovering = false;
    this.held = [];
    this.retryTimer = null;
    this.heartbeatTimer = null;
    window.addEventListener("online", () => this.wake());
    window.addEventListener("offline", () => {
      if (!this.stopped && this.state !== "connected") this.setState("offline");
    });
  }

  /** Calls `handler(data, frame)` for every server frame named `event`. */
  on(event, handler) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(handler);
    return () => this.handlers.get(event).delete(handler);
  }

  start() {
    this.stopped = false;
    this.everOpened = false;
    this.attempt = 0;
    this.connect();
  }

  /** Sign-out: closes the socket and forgets every room. */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.heartbeatTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "signed out");
    this.failPending("Signed out.");
    this.rooms.clear();
    this.lastSeq.clear();
    this.lastId.clear();
    this.recovering = false;
    this.held = [];
    this.setState("idle");
  }

  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...detail } }));
  }

  wake() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  }

  async connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.setState(this.everOpened ? "reconnecting" : "connecting");
    let ticket;
    try {
      ({ ticket } = await this.auth.request("POST", "/api/auth/ws-ticket"));
    } catch (error) {
      if (error.status === 401) return; // signed out: the app stops us
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/?ticket=${encodeURIComponent(ticket)}`);
    this.ws = ws;
    ws.addEventListener("open", () => this.opened(ws));
    ws.addEventListener("message", (message) => {
      if (ws === this.ws) this.received(message.data);
    });
    ws.addEventListener("close", (event) => this.closed(ws, event));
  }

  opened(ws) {
    if (ws !== this.ws) return;
    const reconnected = this.everOpened;
    this.everOpened = true;
    this.attempt = 0;
    this.setState("connected");
    // Set before any frame of the new socket is read (see `received`).
    this.recovering = reconnected;
    this.heartbeat();
    this.dispatchEvent(new CustomEvent("open", { detail: { reconnected } }));
    if (reconnected) this.recover();
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearTimeout(this.heartbeatTimer);
    this.failPending("The connection was lost before the server answered; try again.");
    if (this.stopped) return;
    if (event.code === CLOSE_LOGGED_OUT) {
      // The user logged out (this tab or another device): this page is signed out too.
      this.dispatchEvent(new CustomEvent("logged-out"));
      return;
    }
    this.dispatchEvent(new CustomEvent("dropped", { detail: { code: event.code } }));
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const ceiling = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    this.setState(navigator.onLine ? "reconnecting" : "offline", { retryInMs: delay });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  failPending(message) {
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new ApiError(0, "disconnected", message));
    }
    this.pending.clear();
  }

  /** Sends `{event, data, ref}`; resolves with the ack's data or rejects with an ApiError
   * built from the error frame (its code and human message). */
  request(event, data = {}) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(
        new ApiError(0, "not_connected", "Not connected right now; the console reconnects by itself. Try again in a moment."),
      );
    }
    const ref = String(this.nextRef++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new ApiError(0, "timeout", "The server did not answer in time; try again."));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, timer });
      ws.send(JSON.stringify({ event, data, ref }));
    });
  }

  /** Fire-and-forget (typing): no ref, so no ack; errors still come back as frames. */
  notify(event, data = {}) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ event, data }));
  }

  received(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    const { event, ref, data } = frame;
    if ((event === "ack" || event === "error") && ref !== undefined && this.pending.has(String(ref))) {
      const { resolve, reject, timer } = this.pending.get(String(ref));
      this.pending.delete(String(ref));
      clearTimeout(timer);
      if (event === "ack") resolve(data || {});
      else reject(new ApiError(0, data?.code || "error", data?.message || "The server refused this.", data?.fields || null));
      return;
    }
    this.deliver(frame);
  }

  deliver(frame) {
    const { event, data } = frame;
    if (frame.room && Number.isInteger(frame.seq)) {
      // Sequenced frames: each seq of a room once, in order (a resumed or re-sent frame
      // may arrive again; it is dropped here).
      const last = this.lastSeq.get(frame.room) || 0;
      if (frame.seq <= last) return;
      if (this.recovering && this.lastSeq.has(frame.room) && frame.seq > last + 1) {
        this.held.push(frame); // the resume under way replays the seqs before it
        return;
      }
      this.lastSeq.set(frame.room, frame.seq);
      if (frame.id) this.lastId.set(frame.room, frame.id);
      else this.lastId.delete(frame.room);
    }
    if (event === "reauth-required") {
      this.reauth();
      return;
    }
    if (event === "error") {
      this.dispatchEvent(new CustomEvent("server-error", { detail: data || {} }));
      return;
    }
    for (const handler of this.handlers.get(event) || []) {
      try {
        handler(data || {}, frame);
      } catch (error) {
        console.error(`handler of ${event} failed`, error);
      }
    }
  }

  async heartbeat() {
    clearTimeout(this.heartbeatTimer);
    let next = 60;
    try {
      const ack = await this.request("presence-heartbeat");
      if (ack.expiresIn) next = Math.max(5, ack.expiresIn / 2);
    } catch {
      if (!this.ws) return;
    }
    if (this.ws) this.heartbeatTimer = setTimeout(() => this.heartbeat(), next * 1000);
  }

  async reauth() {
    // The server warns before the socket's credentials expire: renew them in place.
    try {
      await this.auth.refresh();
      await this.request("reauth", { token: this.auth.access });
    } catch {
      if (this.ws) this.ws.close(4001, "reauth failed");
    }
  }

  /** A view is showing `room`: `join()` re-enters it after a reconnect when the server did
   * not resume it (null for rooms the server joins by itself: user- and course-),
   * `reload()` re-reads its state over REST, `denied()` runs when it may not come back. */
  track(room, { join = null, reload, denied = null }) {
    this.rooms.set(room, { join, reload, denied });
  }

  /** The view no longer shows `room`. `left`: the socket left it too, so its seq
   * history no longer applies. */
  untrack(room, { left = false } = {}) {
    this.rooms.delete(room);
    if (left) {
      this.lastSeq.delete(room);
      this.lastId.delete(room);
    }
  }

  async recover() {
    const known = {};
    for (const room of this.rooms.keys()) {
      if (!this.lastSeq.has(room)) continue;
      const seq = this.lastSeq.get(room);
      // With the frame's id the server checks its history is the one this page saw.
      known[room] = this.lastId.has(room) ? { seq, id: this.lastId.get(room) } : seq;
    }
    let statuses = null;
    if (Object.keys(known).length) {
      try {
        statuses = (await this.request("resume", { rooms: known })).rooms || {};
      } catch {
        statuses = null; // a server without resume: reload everything below
      }
    }
    // The replay came before the answer: what waited is in order now (or, for a room
    // that is reloaded below, newer than what the reload shows).
    this.recovering = false;
    for (const frame of this.held.splice(0)) this.deliver(frame);
    const work = [];
    for (const [room, sub] of this.rooms) {
      const answer = statuses && statuses[room];
      if (answer && Number.isInteger(answer.seq) && answer.seq > (this.lastSeq.get(room) || 0)) {
        this.lastSeq.set(room, answer.seq); // a resync: continue from there (no frame, no id)
        this.lastId.delete(room);
      }
      if (answer && answer.status === "resumed") continue;
      if (answer && answer.status === "denied") {
        if (sub.denied) sub.denied();
        continue;
      }
      work.push(
        (async () => {
          if (!(answer && answer.status === "resync") && sub.join) await sub.join();
          await sub.reload();
        })().catch((error) => this.dispatchEvent(new CustomEvent("recover-failed", { detail: { room, error } }))),
      );
    }
    await Promise.all(work);
    this.dispatchEvent(new CustomEvent("recovered"));
  }
}
