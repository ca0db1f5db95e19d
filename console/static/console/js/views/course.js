// One course: who is online (staff marked), live sessions, study groups and the
// instructor's office hours. Everything after the first REST read comes from frames of
// course-<id>.

import { qs } from "../api.js";
import { field, fill, fmtDateTime, h } from "../dom.js";
import { officeHoursPanel } from "./officehours.js";

export function courseView(ctx, container, courseId) {
  const { socket, api, attempt } = ctx;
  const room = `course-${courseId}`;
  const state = { course: null, names: new Map(), roles: new Map(), presence: new Map(), sessions: new Map(), groups: new Map() };
  const isInstructor = () => state.course && state.course.instructor.id === ctx.me.id;
  const offs = [];
  let alive = true;
  let officeHours = null; // the office-hours panel, built on the first load

  const title = h("h2", {}, "Loading course…");
  const description = h("p", { class: "muted" });
  const myRole = h("p", { id: "course-role" });
  const presenceList = h("ul", { class: "plain people", id: "presence-list", "aria-live": "polite" });
  const sessionList = h("ul", { class: "plain rows", id: "session-list" });
  const groupList = h("ul", { class: "plain rows", id: "group-list" });
  const scheduleSlot = h("div");
  const ohSlot = h("section", { class: "card wide", "aria-labelledby": "oh-title" });

  fill(
    container,
    h("section", { class: "card" }, title, description, myRole),
    h(
      "div",
      { class: "grid course-grid" },
      h("section", { class: "card", "aria-labelledby": "online-title" }, h("h3", { id: "online-title" }, "Who is online"), presenceList),
      h(
        "section",
        { class: "card", "aria-labelledby": "sessions-title" },
        h("h3", { id: "sessions-title" }, "Live sessions"),
        sessionList,
        scheduleSlot,
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "groups-title" },
        h("h3", { id: "groups-title" }, "Study groups"),
        groupList,
        groupForm(),
      ),
      ohSlot,
    ),
  );

  // -- presence ------------------------------------------------------------------------

  const ROLE_LABELS = { instructor: "instructor", ta: "TA" };

  function roleBadge(userId) {
    const role = state.roles.get(userId);
    return ROLE_LABELS[role] ? h("span", { class: "badge role", dataset: { role } }, ROLE_LABELS[role]) : null;
  }

  function renderPresence() {
    const online = [...state.presence.values()].filter((p) => p.status !== "offline");
    online.sort((a, b) => (a.name || "").localeCompare(b.name || ""));
    fill(
      presenceList,
      online.map((p) =>
        h(
          "li",
          { dataset: { userId: p.userId, status: p.status, role: state.roles.get(p.userId) || "student" } },
          h("span", { class: `dot ${p.status}`, "aria-hidden": "true" }),
          h("span", { class: "name" }, p.name || "…"),
          roleBadge(p.userId),
          h("span", { class: "badge" }, p.status),
          p.activity ? h("span", { class: "muted" }, ` ${p.activity}`) : null,
          p.userId === ctx.me.id ? h("span", { class: "muted" }, " (you)") : null,
        ),
      ),
    );
    if (!online.length) presenceList.append(h("li", { class: "muted" }, "Nobody is online."));
    officeHours?.presenceChanged();
  }

  async function ensureNames(userIds) {
    const missing = userIds.filter((id) => !state.names.has(id));
    if (!missing.length) return;
    const found = await attempt(() => api("POST", "/api/presence/bulk", { userIds: missing }));
    for (const user of found?.users || []) state.names.set(user.userId, user.name);
  }

  async function applyPresence(users) {
    await ensureNames(users.map((u) => u.userId));
    for (const user of users) {
      state.presence.set(user.userId, { ...user, name: state.names.get(user.userId) || user.name });
    }
    renderPresence();
  }

  offs.push(
    socket.on("presence-changed", (data, frame) => frame.room === room && applyPresence([data])),
    socket.on("presence-batch", (data, frame) => frame.room === room && applyPresence(data.users || [])),
  );

  // -- live sessions -----------------------------------------------------------------------

  function seats(session) {
    const used = session.activeAttendees ?? 0;
    return session.capacity ? `${used} / ${session.capacity} seats` : `${used} attending`;
  }

  function renderSessions() {
    const sessions = [...state.sessions.values()].sort((a, b) => (a.scheduledAt < b.scheduledAt ? -1 : 1));
    fill(
      sessionList,
      sessions.map((s) =>
        h(
          "li",
          { dataset: { sessionId: s.id, status: s.status } },
          h("div", {}, h("a", { href: `#/sessions/${s.id}` }, s.title), " ", h("span", { class: `badge ${s.status}` }, s.status)),
          h("div", { class: "muted" }, `${fmtDateTime(s.scheduledAt)} · ${s.duration} min · ${seats(s)}`),
          isInstructor() && s.status === "scheduled"
            ? h(
                "div",
                { class: "actions" },
                h("button", { type: "button", onclick: () => lifecycle(s.id, "start") }, `Start “${s.title}”`),
                h("button", { type: "button", class: "secondary", onclick: () => lifecycle(s.id, "cancel") }, "Cancel"),
              )
            : null,
        ),
      ),
    );
    if (!sessions.length) sessionList.append(h("li", { class: "muted" }, "No sessions planned."));
  }

  async function lifecycle(sessionId, verb) {
    const session = await attempt(() => api("POST", `/api/live-sessions/${sessionId}/${verb}`));
    if (session) upsertSession(session);
    if (session && verb === "start") ctx.navigate(`#/sessions/${sessionId}`);
  }

  function upsertSession(session) {
    const known = state.sessions.get(session.id) || {};
    state.sessions.set(session.id, { ...known, ...session });
    renderSessions();
  }

  function scheduleForm() {
    const inOneHour = new Date(Date.now() + 3600e3);
    inOneHour.setSeconds(0, 0);
    const local = new Date(inOneHour.getTime() - inOneHour.getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
    const [tl, ti] = field("Title", { required: true, maxlength: 200, name: "title" });
    const [wl, wi] = field("Starts at (your time)", { type: "datetime-local", required: true, value: local, name: "scheduledAt" });
    const [dl, di] = field("Duration (minutes)", { type: "number", min: 1, max: 600, value: 60, required: true, name: "duration" });
    const [cl, ci] = field("Seats (blank: no limit)", { type: "number", min: 1, name: "capacity" });
    const form = h(
      "form",
      { class: "stack", "aria-label": "Schedule a session" },
      h("h4", {}, "Schedule a session"),
      h("div", { class: "fields" }, h("div", { class: "full" }, tl, ti), h("div", { class: "full" }, wl, wi), h("div", {}, dl, di), h("div", {}, cl, ci)),
      h("button", { type: "submit" }, "Schedule"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {
        courseId,
        title: ti.value.trim(),
        scheduledAt: new Date(wi.value).toISOString(),
        duration: Number(di.value),
      };
      if (ci.value) body.capacity = Number(ci.value);
      const session = await attempt(() => api("POST", "/api/live-sessions", body));
      if (session) {
        upsertSession(session);
        ti.value = "";
      }
    });
    return form;
  }

  offs.push(
    socket.on("live-session-scheduled", (data, frame) => frame.room === room && upsertSession(data.session)),
    socket.on("session-started", (data, frame) => {
      if (frame.room !== room) return;
      upsertSession(data.session);
      if (!isInstructor()) {
        const link = h("a", { href: `#/sessions/${data.sessionId}` }, "Open the room");
        ctx.notice(h("span", {}, `“${data.session.title}” has started. `, link));
      }
    }),
    socket.on("session-ended", (data, frame) => {
      if (frame.room !== room || !state.sessions.has(data.sessionId)) return;
      upsertSession({ id: data.sessionId, status: "ended", endedAt: data.endedAt, activeAttendees: 0 });
    }),
    socket.on("live-session-cancelled", (data, frame) => frame.room === room && upsertSession(data.session)),
    socket.on("live-session-starting-soon", (data, frame) => {
      if (frame.room === room) ctx.notice(`“${data.title}” starts in ${data.minutesUntilStart} minutes.`);
    }),
    socket.on("session-ending-soon", (data, frame) => {
      const s = state.sessions.get(data.sessionId);
      if (frame.room === room && s) ctx.notice(`“${s.title}” ends in ${data.minutesLeft} minutes.`);
    }),
  );

  // -- study groups ----------------------------------------------------------------------

  function renderGroups() {
    const groups = [...state.groups.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
    fill(
      groupList,
      groups.map((g) =>
        h(
          "li",
          { dataset: { groupId: g.id } },
          h("div", {}, h("a", { href: `#/groups/${g.id}` }, g.name), g.isMember ? h("span", { class: "badge" }, g.myRole || "member") : null),
          h("div", { class: "muted" }, `${g.memberCount} / ${g.maxMembers} members${g.isFull ? " · full" : ""}`),
          !g.isMember && !g.isFull
            ? h("div", { class: "actions" }, h("button", { type: "button", onclick: () => joinGroup(g.id) }, `Join ${g.name}`))
            : null,
        ),
      ),
    );
    if (!groups.length) groupList.append(h("li", { class: "muted" }, "No study groups yet."));
  }

  async function joinGroup(groupId) {
    const group = await attempt(() => api("POST", `/api/study-groups/${groupId}/join`));
    if (group) {
      state.groups.set(group.id, group);
      ctx.navigate(`#/groups/${group.id}`);
    }
  }

  function groupForm() {
    const [nl, ni] = field("Group name", { required: true, maxlength: 100 });
    const [dl, di] = field("Description", { tag: "textarea", maxlength: 2000, rows: 2 });
    const [ml, mi] = field("Maximum members", { type: "number", min: 2, max: 100, value: 6 });
    const form = h("form", { class: "stack", "aria-label": "Create a study group" }, h("h4", {}, "Create a group"), nl, ni, dl, di, ml, mi, h("button", { type: "submit" }, "Create group"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { courseId, name: ni.value.trim(), description: di.value.trim() };
      if (mi.value) body.maxMembers = Number(mi.value);
      const group = await attempt(() => api("POST", "/api/study-groups", body));
      if (group) {
        state.groups.set(group.id, group);
        ctx.navigate(`#/groups/${group.id}`);
      }
    });
    return form;
  }

  function mergeGroup(data) {
    const known = state.groups.get(data.id);
    const mine = known ? { isMember: known.isMember, myRole: known.myRole } : { isMember: data.createdBy?.id === ctx.me.id, myRole: null };
    state.groups.set(data.id, { ...known, ...data, ...mine });
    renderGroups();
  }

  function memberCount(data, joined) {
    const group = state.groups.get(data.groupId);
    if (!group) return;
    group.memberCount = data.memberCount;
    group.isFull = data.memberCount >= group.maxMembers;
    if (data.userId === ctx.me.id) {
      group.isMember = joined;
      if (!joined) group.myRole = null;
    }
    renderGroups();
  }

  offs.push(
    socket.on("study-group-created", (data, frame) => frame.room === room && mergeGroup(data)),
    socket.on("study-group-updated", (data, frame) => frame.room === room && mergeGroup(data)),
    socket.on("study-group-deleted", (data, frame) => {
      if (frame.room !== room) return;
      state.groups.delete(data.groupId);
      renderGroups();
    }),
    socket.on("study-group-member-joined", (data, frame) => frame.room === room && memberCount(data, true)),
    socket.on("study-group-member-left", (data, frame) => frame.room === room && memberCount(data, false)),
  );

  // -- loading -----------------------------------------------------------------------------

  async function reload() {
    const course = await attempt(() => api("GET", `/api/courses/${courseId}`));
    if (!course || !alive) return;
    state.course = course;
    title.textContent = course.title;
    description.textContent = `${course.description} · taught by ${course.instructor.name}`;
    fill(
      myRole,
      "Your role here: ",
      h("span", { class: "badge role", dataset: { role: course.role || "admin" } }, course.role ? ROLE_LABELS[course.role] || course.role : "admin (not a member)"),
    );
    document.title = `${course.title} · collab console`;
    fill(scheduleSlot, isInstructor() ? scheduleForm() : null);
    const [members, online, upcoming, ended, groups] = await Promise.all([
      attempt(() => api("GET", `/api/courses/${courseId}/members${qs({ limit: 500 })}`)),
      attempt(() => api("GET", `/api/presence/course/${courseId}${qs({ limit: 500 })}`)),
      attempt(() => api("GET", `/api/live-sessions/course/${courseId}`)),
      isInstructor() ? attempt(() => api("GET", `/api/live-sessions/instructor/my-sessions${qs({ status: "ended", limit: 10 })}`)) : [],
      attempt(() => api("GET", `/api/study-groups/course/${courseId}`)),
    ]);
    if (!alive) return;
    state.roles.clear();
    state.roles.set(course.instructor.id, "instructor");
    for (const m of members || []) {
      state.names.set(m.id, m.name);
      state.roles.set(m.id, m.role);
    }
    state.presence.clear();
    for (const p of online?.users || []) {
      state.presence.set(p.userId, p);
      // Staff beyond the members page read: the presence list marks them.
      if (p.staff && !state.roles.has(p.userId)) state.roles.set(p.userId, "ta");
    }
    const endedHere = [...state.sessions.values()].filter((s) => s.status === "ended" || s.status === "cancelled");
    state.sessions.clear();
    for (const s of [...endedHere, ...(ended || []).filter((s) => s.courseId === courseId), ...(upcoming || [])]) {
      state.sessions.set(s.id, s);
    }
    state.groups.clear();
    for (const g of groups || []) state.groups.set(g.id, g);
    renderPresence();
    renderSessions();
    renderGroups();
    const panelRole = course.role || "admin";
    if (officeHours && officeHours.role !== panelRole) {
      // A role change (student <-> TA) changes what the panel offers: build it again.
      officeHours.destroy();
      officeHours = null;
    }
    if (!officeHours) {
      officeHours = officeHoursPanel(ctx, ohSlot, course.instructor, {
        role: panelRole,
        presenceOf: (userId) => state.presence.get(userId),
      });
      officeHours.role = panelRole;
    } else {
      await officeHours.reload();
    }
  }

  socket.track(room, { reload });
  reload();

  return {
    reload,
    destroy() {
      alive = false;
      for (const off of offs) off();
      officeHours?.destroy();
      // The course room stays joined (the server put the socket there); only this view's
      // reload on reconnect goes.
      socket.untrack(room);
    },
  };
}
