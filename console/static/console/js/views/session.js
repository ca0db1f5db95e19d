// A live session's room: attendees and seats, chat with history and typing, join and
// leave; for its instructor start / end / cancel, deleting messages and the attendance
// report. Entering the socket room is attendance (docs/protocol/liveSessions.md).

import { qs } from "../api.js";
import { fill, fmtDateTime, fmtTime, h } from "../dom.js";

const TYPING_IDLE_MS = 3000;
const TYPING_SHOWN_MS = 10000;

export function sessionView(ctx, container, sessionId) {
  const { socket, api, attempt } = ctx;
  const room = `session-${sessionId}`;
  const state = { session: null, inRoom: false, attendees: new Map(), messages: new Map(), nextCursor: null, typers: new Map() };
  const offs = [];
  let alive = true;
  const isHost = () => state.session && state.session.instructor.id === ctx.me.id;

  const title = h("h2", {}, "Loading session…");
  const meta = h("p", { class: "muted" });
  const seats = h("p", { id: "seats", "aria-live": "polite" });
  const controls = h("div", { class: "actions", id: "session-controls" });
  const attendeeList = h("ul", { class: "plain people", id: "attendees" });
  const olderButton = h("button", { type: "button", class: "secondary", id: "older-messages", onclick: loadOlder }, "Load older messages");
  const messageList = h("ol", { class: "plain messages", id: "messages", role: "log", "aria-live": "polite", "aria-label": "Chat messages" });
  const typingLine = h("p", { class: "typing muted", id: "typing", "aria-live": "polite" });
  const input = h("input", { id: "chat-input", type: "text", maxlength: 2000, autocomplete: "off", disabled: true });
  const sendButton = h("button", { type: "submit", disabled: true }, "Send");
  const chatHint = h("p", { class: "muted", id: "chat-hint" });
  const form = h("form", { class: "chat-form", "aria-label": "Send a message" }, h("label", { for: "chat-input" }, "Message"), input, sendButton);

  fill(
    container,
    h("section", { class: "card" }, h("p", {}, h("a", { href: "#/", id: "back-to-course" }, "← Back to the course")), title, meta, seats, controls),
    h(
      "div",
      { class: "grid room" },
      h("section", { class: "card", "aria-labelledby": "attendees-title" }, h("h3", { id: "attendees-title" }, "Attendees"), attendeeList),
      h("section", { class: "card chat", "aria-labelledby": "chat-title" }, h("h3", { id: "chat-title" }, "Chat"), olderButton, messageList, typingLine, chatHint, form),
    ),
  );

  // -- header and controls -------------------------------------------------------------------

  function renderHeader() {
    const s = state.session;
    if (!s) return;
    title.textContent = s.title;
    document.title = `${s.title} · collab console`;
    const course = ctx.courses.get(s.courseId);
    ctx.viewingCourse(s.courseId);
    container.querySelector("#back-to-course").href = s.courseId ? `#/courses/${s.courseId}` : "#/";
    fill(meta, h("span", { class: `badge ${s.status}`, id: "session-status" }, s.status), ` ${course ? course.title + " · " : ""}${fmtDateTime(s.scheduledAt)} · ${s.duration} min · host ${s.instructor.name}`);
    seats.textContent = s.capacity ? `Seats: ${s.activeAttendees ?? 0} / ${s.capacity} used` : `Seats: ${s.activeAttendees ?? 0} used (no limit)`;
    const buttons = [];
    if (s.status === "live" && !state.inRoom) buttons.push(h("button", { type: "button", id: "join-session", onclick: enter }, "Join session"));
    if (state.inRoom) buttons.push(h("button", { type: "button", class: "secondary", id: "leave-session", onclick: leave }, "Leave session"));
    if (isHost()) {
      if (s.status === "scheduled") {
        buttons.push(h("button", { type: "button", onclick: () => lifecycle("start") }, "Start session"));
        buttons.push(h("button", { type: "button", class: "danger", onclick: () => lifecycle("cancel") }, "Cancel session"));
      }
      if (s.status === "live") buttons.push(h("button", { type: "button", class: "danger", onclick: () => lifecycle("end") }, "End session"));
      buttons.push(h("button", { type: "button", class: "secondary", onclick: downloadAttendance }, "Download attendance (CSV)"));
    }
    fill(controls, buttons);
    input.disabled = !state.inRoom;
    sendButton.disabled = !state.inRoom;
    chatHint.textContent = state.inRoom ? "" : s.status === "live" ? "Join the session to chat." : `The session is ${s.status}.`;
  }

  async function lifecycle(verb) {
    const session = await attempt(() => api("POST", `/api/live-sessions/${sessionId}/${verb}`, verb === "end" ? {} : undefined));
    if (session) {
      state.session = session;
      if (verb === "end") left();
      renderHeader();
      if (verb === "start") maybeAutoEnter();
    }
  }

  async function downloadAttendance() {
    const response = await attempt(() => api("GET", `/api/live-sessions/${sessionId}/attendance${qs({ format: "csv" })}`, undefined, { raw: true }));
    if (!response) return;
    const blob = await response.blob();
    const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "")?.[1] || `attendance-${sessionId}.csv`;
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // -- entering and leaving -----------------------------------------------------------------

  async function joinRoom() {
    const ack = await socket.request("join-live-session", { sessionId });
    state.inRoom = true;
    if (state.session) state.session.activeAttendees = ack.activeAttendees;
    renderHeader();
  }

  let entering = false;
  async function enter() {
    if (entering) return;
    entering = true;
    try {
      hostLeft = false;
      const ok = await attempt(async () => (await joinRoom(), true));
      if (!ok) return;
      await reload();
      input.focus();
    } finally {
      entering = false;
    }
  }

  // The host runs the room: their page enters it by itself while the session is live
  // (the host takes no seat), unless they chose to leave.
  let hostLeft = false;
  function maybeAutoEnter() {
    const s = state.session;
    if (isHost() && s && s.status === "live" && !state.inRoom && !hostLeft && socket.state === "connected") enter();
  }

  async function leave() {
    hostLeft = true;
    stopTyping();
    await attempt(() => socket.request("leave-live-session", { sessionId }));
    left();
    await reload();
  }

  function left() {
    state.inRoom = false;
    state.typers.clear();
    renderTyping();
    socket.lastSeq.delete(room);
    renderHeader();
  }

  // -- attendees ---------------------------------------------------------------------------------

  function renderAttendees() {
    const present = [...state.attendees.values()].filter((a) => a.present);
    present.sort((a, b) => Number(b.isHost) - Number(a.isHost) || a.name.localeCompare(b.name));
    fill(
      attendeeList,
      present.map((a) => h("li", { dataset: { userId: a.userId } }, h("span", { class: "name" }, a.name), a.isHost ? h("span", { class: "badge" }, "host") : null)),
    );
    if (!present.length) attendeeList.append(h("li", { class: "muted" }, "Nobody is here yet."));
  }

  function attendee(data, present) {
    if (data.sessionId !== sessionId) return;
    const known = state.attendees.get(data.userId) || { userId: data.userId, isHost: state.session?.instructor.id === data.userId };
    state.attendees.set(data.userId, { ...known, name: data.name, present });
    if (state.session) state.session.activeAttendees = data.activeAttendees;
    renderAttendees();
    renderHeader();
  }

  // -- chat -----------------------------------------------------------------------------------------

  function renderMessages({ keepScroll = false } = {}) {
    const atBottom = messageList.scrollHeight - messageList.scrollTop - messageList.clientHeight < 40;
    const previousHeight = messageList.scrollHeight;
    const messages = [...state.messages.values()].sort((a, b) => (a.sentAt < b.sentAt ? -1 : a.sentAt > b.sentAt ? 1 : 0));
    fill(
      messageList,
      messages.map((m) =>
        h(
          "li",
          { dataset: { messageId: m.id } },
          h("span", { class: "who" }, m.name),
          h("time", { datetime: m.sentAt, class: "muted" }, ` ${fmtTime(m.sentAt)} `),
          h("span", { class: "text" }, m.message),
          isHost() ? h("button", { type: "button", class: "link danger", onclick: () => deleteMessage(m), "aria-label": `Delete message from ${m.name}: ${m.message.slice(0, 40)}` }, "Delete") : null,
        ),
      ),
    );
    if (!messages.length) messageList.append(h("li", { class: "muted" }, "No messages yet."));
    olderButton.hidden = !state.nextCursor;
    if (keepScroll) messageList.scrollTop = messageList.scrollHeight - previousHeight;
    else if (atBottom) messageList.scrollTop = messageList.scrollHeight;
  }

  async function deleteMessage(message) {
    const done = await attempt(async () => (await api("DELETE", `/api/live-sessions/${sessionId}/messages/${message.id}`), true));
    if (done) {
      state.messages.delete(message.id);
      renderMessages();
    }
  }

  async function loadOlder() {
    const page = await attempt(() => api("GET", `/api/live-sessions/${sessionId}/messages${qs({ cursor: state.nextCursor, limit: 50 })}`));
    if (!page) return;
    for (const m of page.messages) state.messages.set(m.id, m);
    state.nextCursor = page.nextCursor;
    renderMessages({ keepScroll: true });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    stopTyping();
    sendButton.disabled = true;
    try {
      await socket.request("session-message", { sessionId, message: text });
      input.value = "";
    } catch (error) {
      ctx.showError(error);
    } finally {
      sendButton.disabled = !state.inRoom;
      input.focus();
    }
  });

  // -- typing ----------------------------------------------------------------------------------------

  let typingSent = false;
  let typingTimer = null;
  input.addEventListener("input", () => {
    if (!state.inRoom) return;
    if (!typingSent && input.value) {
      socket.notify("session-typing-start", { sessionId });
      typingSent = true;
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  });

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingSent && state.inRoom) socket.notify("session-typing-stop", { sessionId });
    typingSent = false;
  }

  function renderTyping() {
    const names = [...state.typers.values()].map((t) => t.name);
    typingLine.textContent = !names.length ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
  }

  function typing(data, on) {
    if (data.sessionId !== sessionId) return;
    clearTimeout(state.typers.get(data.userId)?.timer);
    if (on) {
      // A lost stop frame must not leave the indicator up forever.
      const timer = setTimeout(() => typing(data, false), TYPING_SHOWN_MS);
      state.typers.set(data.userId, { name: data.name, timer });
    } else {
      state.typers.delete(data.userId);
    }
    renderTyping();
  }

  // -- frames --------------------------------------------------------------------------------------

  const mine = (data) => data.sessionId === sessionId;
  offs.push(
    socket.on("attendee-joined", (data) => attendee(data, true)),
    socket.on("attendee-left", (data) => attendee(data, false)),
    socket.on("session-new-message", (data) => {
      if (!mine(data)) return;
      state.messages.set(data.id, data);
      typing({ sessionId, userId: data.userId }, false);
      renderMessages();
    }),
    socket.on("session-message-deleted", (data) => {
      if (!mine(data)) return;
      state.messages.delete(data.id);
      renderMessages();
    }),
    socket.on("session-user-typing", (data) => typing(data, true)),
    socket.on("session-user-stop-typing", (data) => typing(data, false)),
    socket.on("session-started", (data) => {
      if (!mine(data)) return;
      state.session = { ...state.session, ...data.session };
      renderHeader();
      ctx.notice(`“${state.session.title}” has started.`);
      maybeAutoEnter();
    }),
    socket.on("session-ended", (data) => {
      if (!mine(data) || !state.session) return;
      state.session = { ...state.session, status: "ended", endedAt: data.endedAt };
      if (state.inRoom) ctx.notice(`“${state.session.title}” has ended.`);
      left();
    }),
    socket.on("live-session-cancelled", (data) => {
      if (!mine(data)) return;
      state.session = { ...state.session, ...data.session };
      renderHeader();
    }),
  );

  // -- loading ---------------------------------------------------------------------------------------

  async function reload() {
    const [session, attendees, page] = await Promise.all([
      attempt(() => api("GET", `/api/live-sessions/${sessionId}`)),
      attempt(() => api("GET", `/api/live-sessions/${sessionId}/attendees`)),
      attempt(() => api("GET", `/api/live-sessions/${sessionId}/messages${qs({ limit: 50 })}`)),
    ]);
    if (!alive) return;
    if (session) state.session = session;
    if (attendees) {
      state.attendees.clear();
      for (const a of attendees.attendees) state.attendees.set(a.userId, a);
      if (state.session) state.session.activeAttendees = attendees.activeAttendees;
    }
    if (page) {
      // Keep older pages already loaded; the newest page replaces what it covers.
      const oldest = page.messages.length ? page.messages[page.messages.length - 1].sentAt : null;
      for (const [id, m] of state.messages) if (!oldest || m.sentAt >= oldest) state.messages.delete(id);
      for (const m of page.messages) state.messages.set(m.id, m);
      if (state.nextCursor === null || !oldest) state.nextCursor = page.nextCursor;
    }
    if (state.session && state.session.status !== "live" && state.inRoom) left();
    renderHeader();
    renderAttendees();
    renderMessages();
  }

  const onFirstOpen = (event) => {
    if (!event.detail.reconnected) maybeAutoEnter();
  };
  socket.addEventListener("open", onFirstOpen);

  // Tracked while shown: after a reconnect the room is re-entered if we were in it (and
  // the server did not resume it), and the view is re-read over REST.
  socket.track(room, { join: () => (state.inRoom ? joinRoom() : null), reload, denied: left });
  reload().then(maybeAutoEnter);

  return {
    reload,
    destroy() {
      alive = false;
      socket.removeEventListener("open", onFirstOpen);
      stopTyping();
      for (const off of offs) off();
      for (const t of state.typers.values()) clearTimeout(t.timer);
      if (state.inRoom) socket.request("leave-live-session", { sessionId }).catch(() => {});
      socket.untrack(room, { left: true });
    },
  };
}
