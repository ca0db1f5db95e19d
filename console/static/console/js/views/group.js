// A study group: members with roles, chat with history, join / leave; for a group admin
// edit, remove a member and delete.

import { qs } from "../api.js";
import { field, fill, fmtTime, h } from "../dom.js";

export function groupView(ctx, container, groupId) {
  const { socket, api, attempt } = ctx;
  const room = `study-group-${groupId}`;
  const state = { group: null, members: new Map(), messages: new Map(), nextCursor: null, inRoom: false, confirmDelete: false };
  const offs = [];
  let alive = true;
  const isAdmin = () => state.group?.myRole === "admin";

  const title = h("h2", {}, "Loading group…");
  const meta = h("p", { class: "muted" });
  const controls = h("div", { class: "actions", id: "group-controls" });
  const editSlot = h("div");
  const memberList = h("ul", { class: "plain people", id: "group-members" });
  const olderButton = h("button", { type: "button", class: "secondary", id: "older-messages", onclick: loadOlder }, "Load older messages");
  const messageList = h("ol", { class: "plain messages", id: "messages", role: "log", "aria-live": "polite", "aria-label": "Group chat messages" });
  const input = h("input", { id: "group-chat-input", type: "text", maxlength: 2000, autocomplete: "off" });
  const sendButton = h("button", { type: "submit" }, "Send");
  const chatHint = h("p", { class: "muted" });
  const form = h("form", { class: "chat-form", "aria-label": "Send a message to the group" }, h("label", { for: "group-chat-input" }, "Message"), input, sendButton);

  fill(
    container,
    h("section", { class: "card" }, h("p", {}, h("a", { href: "#/", id: "back-to-course" }, "← Back to the course")), title, meta, controls, editSlot),
    h(
      "div",
      { class: "grid room" },
      h("section", { class: "card", "aria-labelledby": "members-title" }, h("h3", { id: "members-title" }, "Members"), memberList),
      h("section", { class: "card chat", "aria-labelledby": "gchat-title" }, h("h3", { id: "gchat-title" }, "Chat"), olderButton, messageList, chatHint, form),
    ),
  );

  function renderHeader() {
    const g = state.group;
    if (!g) return;
    title.textContent = g.name;
    document.title = `${g.name} · collab console`;
    ctx.viewingCourse(g.courseId);
    container.querySelector("#back-to-course").href = `#/courses/${g.courseId}`;
    fill(
      meta,
      g.isActive ? null : h("span", { class: "badge ended" }, "deleted"),
      `${g.description ? g.description + " · " : ""}${g.memberCount} / ${g.maxMembers} members`,
      g.myRole ? ` · you are ${g.myRole === "admin" ? "an admin" : "a member"}` : "",
    );
    const buttons = [];
    if (g.isActive && !g.isMember) buttons.push(h("button", { type: "button", id: "join-group", onclick: join, disabled: g.isFull }, g.isFull ? "Group is full" : "Join group"));
    if (g.isActive && g.isMember) buttons.push(h("button", { type: "button", class: "secondary", id: "leave-group", onclick: leaveGroup }, "Leave group"));
    if (g.isActive && isAdmin()) {
      buttons.push(
        h("button", { type: "button", class: "danger", id: "delete-group", onclick: deleteGroup }, state.confirmDelete ? "Really delete this group?" : "Delete group"),
      );
    }
    fill(controls, buttons);
    fill(editSlot, g.isActive && isAdmin() ? editForm(g) : null);
    const canChat = g.isActive && g.isMember;
    input.disabled = !canChat;
    sendButton.disabled = !canChat;
    chatHint.textContent = canChat ? "" : g.isActive ? "Join the group to read and write its chat." : "This group was deleted.";
  }

  function editForm(g) {
    const [nl, ni] = field("Name", { required: true, maxlength: 100, value: g.name });
    const [dl, di] = field("Description", { tag: "textarea", maxlength: 2000, rows: 2 });
    di.value = g.description || "";
    const [ml, mi] = field("Maximum members", { type: "number", min: 2, max: 100, value: g.maxMembers });
    const form = h("form", { class: "stack", "aria-label": "Edit the group" }, h("h4", {}, "Edit the group"), nl, ni, dl, di, ml, mi, h("button", { type: "submit" }, "Save changes"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const updated = await attempt(() => api("PATCH", `/api/study-groups/${groupId}`, { name: ni.value.trim(), description: di.value.trim(), maxMembers: Number(mi.value) }));
      if (updated) {
        state.group = updated;
        renderHeader();
        ctx.notice("Group saved.");
      }
    });
    return form;
  }

  async function join() {
    const group = await attempt(() => api("POST", `/api/study-groups/${groupId}/join`));
    if (group) {
      state.group = group;
      await enterRoom();
      await reload();
    }
  }

  async function leaveGroup() {
    const done = await attempt(async () => (await api("POST", `/api/study-groups/${groupId}/leave`), true));
    if (done) {
      notMember();
      await reload();
    }
  }

  async function deleteGroup() {
    if (!state.confirmDelete) {
      state.confirmDelete = true;
      renderHeader();
      container.querySelector("#delete-group").focus();
      return;
    }
    const done = await attempt(async () => (await api("DELETE", `/api/study-groups/${groupId}`), true));
    if (done) {
      ctx.notice(`“${state.group.name}” was deleted.`);
      ctx.navigate(`#/courses/${state.group.courseId}`);
    }
  }

  function notMember() {
    state.inRoom = false;
    socket.lastSeq.delete(room);
    if (state.group) Object.assign(state.group, { isMember: false, myRole: null });
    state.messages.clear();
    state.nextCursor = null;
    renderHeader();
    renderMessages();
  }

  // -- members -------------------------------------------------------------------------------

  function renderMembers() {
    const members = [...state.members.values()].sort((a, b) => (a.role === b.role ? a.name.localeCompare(b.name) : a.role === "admin" ? -1 : 1));
    fill(
      memberList,
      members.map((m) =>
        h(
          "li",
          { dataset: { userId: m.userId } },
          h("span", { class: "name" }, m.name),
          h("span", { class: "badge" }, m.role),
          isAdmin() && m.userId !== ctx.me.id && state.group?.isActive
            ? h("button", { type: "button", class: "link danger", onclick: () => removeMember(m) }, `Remove ${m.name}`)
            : null,
        ),
      ),
    );
  }

  async function removeMember(member) {
    const done = await attempt(async () => (await api("DELETE", `/api/study-groups/${groupId}/members/${member.userId}`), true));
    if (done) {
      state.members.delete(member.userId);
      renderMembers();
    }
  }

  // -- chat -------------------------------------------------------------------------------------

  function renderMessages({ keepScroll = false } = {}) {
    const atBottom = messageList.scrollHeight - messageList.scrollTop - messageList.clientHeight < 40;
    const previousHeight = messageList.scrollHeight;
    const messages = [...state.messages.values()].sort((a, b) => (a.sentAt < b.sentAt ? -1 : a.sentAt > b.sentAt ? 1 : 0));
    fill(
      messageList,
      messages.map((m) => h("li", { dataset: { messageId: m.id } }, h("span", { class: "who" }, m.name), h("time", { datetime: m.sentAt, class: "muted" }, ` ${fmtTime(m.sentAt)} `), h("span", { class: "text" }, m.message))),
    );
    if (!messages.length) messageList.append(h("li", { class: "muted" }, state.group?.isMember ? "No messages yet." : "—"));
    olderButton.hidden = !state.nextCursor;
    if (keepScroll) messageList.scrollTop = messageList.scrollHeight - previousHeight;
    else if (atBottom) messageList.scrollTop = messageList.scrollHeight;
  }

  async function loadOlder() {
    const page = await attempt(() => api("GET", `/api/study-groups/${groupId}/messages${qs({ cursor: state.nextCursor, limit: 50 })}`));
    if (!page) return;
    for (const m of page.messages) state.messages.set(m.id, m);
    state.nextCursor = page.nextCursor;
    renderMessages({ keepScroll: true });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.value.trim()) return;
    sendButton.disabled = true;
    try {
      await socket.request("study-group-message", { groupId, message: input.value });
      input.value = "";
    } catch (error) {
      ctx.showError(error);
    } finally {
      sendButton.disabled = !state.group?.isMember;
      input.focus();
    }
  });

  // -- frames -------------------------------------------------------------------------------------

  const ours = (data) => data.groupId === groupId;
  offs.push(
    socket.on("study-group-new-message", (data) => {
      if (!ours(data)) return;
      state.messages.set(data.id, data);
      renderMessages();
    }),
    socket.on("study-group-message-deleted", (data) => {
      if (!ours(data)) return;
      state.messages.delete(data.id);
      renderMessages();
    }),
    socket.on("study-group-member-joined", (data) => {
      if (!ours(data) || !state.group) return;
      if (!state.members.has(data.userId)) state.members.set(data.userId, { userId: data.userId, name: data.name, role: "member" });
      state.group.memberCount = data.memberCount;
      renderMembers();
      renderHeader();
    }),
    socket.on("study-group-member-left", (data) => {
      if (!ours(data) || !state.group) return;
      state.members.delete(data.userId);
      state.group.memberCount = data.memberCount;
      if (data.userId === ctx.me.id && state.group.isMember) {
        ctx.notice(`You are no longer a member of “${state.group.name}”.`, { tone: "warn" });
        notMember();
      }
      renderMembers();
      renderHeader();
    }),
    socket.on("study-group-admin-changed", (data) => {
      if (!ours(data)) return;
      const member = state.members.get(data.userId);
      if (member) member.role = "admin";
      if (data.userId === ctx.me.id && state.group) state.group.myRole = "admin";
      renderMembers();
      renderHeader();
    }),
    socket.on("study-group-updated", (data) => {
      if (data.id !== groupId || !state.group) return;
      const { isMember, myRole } = state.group;
      state.group = { ...state.group, ...data, isMember, myRole };
      renderHeader();
    }),
    socket.on("study-group-deleted", (data) => {
      if (!ours(data) || !state.group || !state.group.isActive) return;
      state.group.isActive = false;
      state.inRoom = false;
      const by = data.deletedBy ? ` by ${data.deletedBy.name}` : "";
      ctx.notice(`“${state.group.name}” was deleted${by}.`, { tone: "warn" });
      renderHeader();
      renderMembers();
    }),
  );

  // -- loading -------------------------------------------------------------------------------------

  async function enterRoom() {
    if (!state.group?.isMember || !state.group.isActive) return;
    await socket.request("join-study-group", { groupId });
    state.inRoom = true;
  }

  async function reload() {
    const group = await attempt(() => api("GET", `/api/study-groups/${groupId}`));
    if (!group || !alive) return;
    state.group = group;
    const [members, page] = await Promise.all([
      attempt(() => api("GET", `/api/study-groups/${groupId}/members`)),
      group.isMember ? attempt(() => api("GET", `/api/study-groups/${groupId}/messages${qs({ limit: 50 })}`)) : null,
    ]);
    if (!alive) return;
    state.members.clear();
    for (const m of members || []) state.members.set(m.userId, m);
    if (page) {
      const oldest = page.messages.length ? page.messages[page.messages.length - 1].sentAt : null;
      for (const [id, m] of state.messages) if (!oldest || m.sentAt >= oldest) state.messages.delete(id);
      for (const m of page.messages) state.messages.set(m.id, m);
      if (state.nextCursor === null || !oldest) state.nextCursor = page.nextCursor;
    }
    renderHeader();
    renderMembers();
    renderMessages();
  }

  socket.track(room, { join: enterRoom, reload, denied: notMember });
  reload().then(() => {
    if (socket.state === "connected") enterRoom().catch(ctx.showError);
  });
  const onFirstOpen = (event) => {
    if (!event.detail.reconnected) enterRoom().catch(ctx.showError);
  };
  socket.addEventListener("open", onFirstOpen);

  return {
    reload,
    destroy() {
      alive = false;
      for (const off of offs) off();
      socket.removeEventListener("open", onFirstOpen);
      if (state.inRoom) socket.request("leave-study-group", { groupId }).catch(() => {});
      socket.untrack(room, { left: true });
    },
  };
}
