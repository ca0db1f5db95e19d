// An instructor's office hours inside a course view. The student sees the schedule,
// which staff are online, announcements, their place and estimated wait (live),
// "you're up next" and "admitted: <who> is coming, join here"; the course staff (the
// instructor and TAs) work the queue (admit, complete, remove with a reason, undo),
// announce, and add their own weekly slots; the instructor also opens and closes it.

import { qs } from "../api.js";
import { DAYS, field, fill, h } from "../dom.js";

let audio = null;

const minutes = (n) => `${n} minute${n === 1 ? "" : "s"}`;

/** A short chime (Web Audio: no sound file to ship). Browsers may refuse sound before
 * the first click on the page; the visible banner is there either way. */
function chime() {
  try {
    audio = audio || new AudioContext();
    audio.resume();
    const now = audio.currentTime;
    for (const [i, freq] of [660, 880].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.001, now + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.2, now + i * 0.18 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.001, now + i * 0.18 + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.18);
      osc.stop(now + i * 0.18 + 0.32);
    }
    return audio.state;
  } catch {
    return "unavailable";
  }
}

/** `role`: the viewer's role in the course the panel sits in (instructor, ta, student,
 * admin); `presenceOf(userId)`: that user's presence as the course page knows it (live). */
export function officeHoursPanel(ctx, container, instructor, { role = "student", presenceOf = () => null } = {}) {
  const { socket, api, attempt } = ctx;
  const instructorId = instructor.id;
  const room = `office-hours-${instructorId}`;
  const mine = ctx.me.id === instructorId;
  // Who opens and closes the queue, and who serves it: the same rules as the API's.
  const owner = mine || role === "admin";
  const staff = owner || role === "ta";
  const state = { isOpen: false, slots: [], queue: null, announcements: [] };
  const offs = [];
  let alive = true;

  const status = h("p", { id: "oh-status", class: "oh-status" });
  const staffOnline = h("p", { id: "oh-staff", "aria-live": "polite" });
  const announcementList = h("ul", { class: "plain rows", id: "oh-announcements", "aria-live": "polite" });
  const slotList = h("ul", { class: "plain rows", id: "oh-slots" });
  const queueBox = h("div", { id: "oh-queue", "aria-live": "polite" });
  const banner = h("div", { id: "oh-banner", role: "alert" });
  fill(
    container,
    h("h3", { id: "oh-title" }, mine ? "My office hours" : `Office hours of ${instructor.name}`),
    h(
      "div",
      { class: "split" },
      h("div", {}, status, staffOnline, banner, announcementList, staff ? announceForm() : null, queueBox),
      h("div", {}, h("h4", {}, "Weekly slots"), slotList, staff ? slotForm() : null),
    ),
  );

  const forMe = (data) => data && data.instructorId === instructorId;
  // The view the API gave decides (a TA's is the staff view); before it, the role does.
  const staffView = () => (state.queue ? state.queue.viewer === "instructor" : staff);

  // -- schedule --------------------------------------------------------------------------

  function renderStatus() {
    const waiting = state.queue ? state.queue.queueLength : 0;
    status.dataset.open = String(state.isOpen);
    fill(
      status,
      h("span", { class: `badge ${state.isOpen ? "live" : "ended"}` }, state.isOpen ? "open" : "closed"),
      ` ${waiting} waiting`,
      owner
        ? h(
            "span",
            { class: "actions" },
            state.isOpen
              ? h("button", { type: "button", class: "secondary", onclick: () => setOpen(false) }, "Close the queue")
              : h("button", { type: "button", onclick: () => setOpen(true) }, "Open the queue"),
          )
        : null,
    );
  }

  async function setOpen(open) {
    const result = await attempt(() => api("POST", `/api/office-hours/queue/${instructorId}/${open ? "open" : "close"}`));
    if (result) {
      state.isOpen = result.isOpen;
      renderStatus();
      render();
    }
  }

  function renderSlots() {
    const slots = [...state.slots].sort((a, b) => a.dayOfWeek - b.dayOfWeek || (a.startTime < b.startTime ? -1 : 1));
    fill(
      slotList,
      slots.map((slot) =>
        h(
          "li",
          { dataset: { slotId: slot.id } },
          h(
            "div",
            {},
            `${DAYS[slot.dayOfWeek]} ${slot.startTime.slice(0, 5)}–${slot.endTime.slice(0, 5)} `,
            h("span", { class: "muted" }, `(${slot.timezone})`),
            slot.staff && slot.staff.id !== instructorId ? h("span", { class: "slot-staff" }, ` with ${slot.staff.name}`) : null,
            slot.isActive ? null : h("span", { class: "badge" }, "inactive"),
          ),
          slot.location || slot.meetingUrl
            ? h("div", { class: "muted" }, slot.location || "", slot.meetingUrl ? h("a", { href: slot.meetingUrl, rel: "noopener", target: "_blank" }, ` ${slot.meetingUrl}`) : null)
            : null,
          owner || (staff && slot.staff && slot.staff.id === ctx.me.id)
            ? h(
                "div",
                { class: "actions" },
                h("button", { type: "button", class: "secondary", onclick: () => patchSlot(slot, { isActive: !slot.isActive }) }, slot.isActive ? "Deactivate" : "Activate"),
                h("button", { type: "button", class: "danger", onclick: () => deleteSlot(slot) }, `Delete ${DAYS[slot.dayOfWeek]} slot`),
              )
            : null,
        ),
      ),
    );
    if (!slots.length) slotList.append(h("li", { class: "muted" }, "No weekly slots."));
  }

  async function patchSlot(slot, changes) {
    const updated = await attempt(() => api("PATCH", `/api/office-hours/${slot.id}`, changes));
    if (updated) {
      state.slots = state.slots.map((s) => (s.id === updated.id ? updated : s));
      renderSlots();
    }
  }

  async function deleteSlot(slot) {
    const done = await attempt(async () => (await api("DELETE", `/api/office-hours/${slot.id}`), true));
    if (done) {
      state.slots = state.slots.filter((s) => s.id !== slot.id);
      renderSlots();
    }
  }

  function slotForm() {
    const here = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [here];
    if (!zones.includes("UTC")) zones.unshift("UTC");
    const [dl, di] = field("Day", { tag: "select", options: DAYS.map((d, i) => [String(i), d]), value: String(new Date().getDay()) });
    const [sl, si] = field("Starts", { type: "time", required: true, value: "14:00" });
    const [el, ei] = field("Ends", { type: "time", required: true, value: "15:00" });
    const [zl, zi] = field("Time zone", { tag: "select", options: zones.map((z) => [z, z]), value: here });
    const [ll, li] = field("Location", { maxlength: 200 });
    const [ul, ui] = field("Meeting link", { type: "url", placeholder: "https://…" });
    const heading = mine || role === "admin" ? "Add a weekly slot" : "Add my weekly slot";
    const form = h(
      "form",
      { class: "stack", "aria-label": heading },
      h("h4", {}, heading),
      h("div", { class: "fields" }, h("div", {}, dl, di), h("div", {}, sl, si), h("div", {}, el, ei), h("div", {}, zl, zi), h("div", {}, ll, li), h("div", {}, ul, ui)),
      h("button", { type: "submit" }, "Add slot"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { dayOfWeek: Number(di.value), startTime: si.value, endTime: ei.value, timezone: zi.value, location: li.value.trim() };
      if (ui.value) body.meetingUrl = ui.value.trim();
      // A TA adds their own slot to the instructor's schedule.
      if (!mine) body.instructorId = instructorId;
      const slot = await attempt(() => api("POST", "/api/office-hours", body));
      if (slot) {
        state.slots = [...state.slots.filter((s) => s.id !== slot.id), slot];
        renderSlots();
      }
    });
    return form;
  }

  // -- staff online, announcements ----------------------------------------------------------

  /** The staff who serve me (the queue view names them) that presence shows online. */
  function renderStaffOnline() {
    const roster = (state.queue && state.queue.staff) || [];
    if (!state.isOpen || !roster.length) {
      fill(staffOnline);
      return;
    }
    const online = roster.filter((member) => {
      if (member.id === ctx.me.id) return false;
      const presence = presenceOf(member.id);
      return presence && presence.status !== "offline";
    });
    fill(
      staffOnline,
      online.length
        ? [
            h("strong", {}, "Staff online now: "),
            online.map((member, i) =>
              h(
                "span",
                { class: "staff-member", dataset: { userId: member.id, role: member.role } },
                i ? ", " : "",
                member.name,
                member.role === "ta" ? " (TA)" : "",
              ),
            ),
          ]
        : h("span", { class: "muted" }, "No staff online right now."),
    );
  }

  function renderAnnouncements() {
    fill(
      announcementList,
      state.announcements.map((a) =>
        h(
          "li",
          { dataset: { announcementId: a.id } },
          h("strong", {}, "Announcement: "),
          h("span", { class: "text" }, a.message),
          a.author ? h("span", { class: "muted" }, ` — ${a.author.name}`) : null,
          staff
            ? h("button", { type: "button", class: "link danger", "aria-label": `Delete the announcement “${a.message}”`, onclick: () => deleteAnnouncement(a) }, "Delete")
            : null,
        ),
      ),
    );
  }

  function addAnnouncement(announcement) {
    state.announcements = [announcement, ...state.announcements.filter((a) => a.id !== announcement.id)].slice(0, 5);
    renderAnnouncements();
  }

  function announceForm() {
    const [ml, mi] = field("Announcement", { maxlength: 500, required: true, placeholder: "e.g. Running 5 minutes late" });
    const form = h("form", { class: "stack", id: "oh-announce-form", "aria-label": "Announce to the queue" }, ml, mi, h("button", { type: "submit" }, "Announce"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const posted = await attempt(() => api("POST", `/api/office-hours/queue/${instructorId}/announcements`, { message: mi.value.trim() }));
      if (posted) {
        mi.value = "";
        addAnnouncement(posted);
      }
    });
    return form;
  }

  async function deleteAnnouncement(announcement) {
    const done = await attempt(async () => (await api("DELETE", `/api/office-hours/queue/announcements/${announcement.id}`), true));
    if (done) {
      state.announcements = state.announcements.filter((a) => a.id !== announcement.id);
      renderAnnouncements();
    }
  }

  // -- the queue: student --------------------------------------------------------------------

  function showBanner(kind, content) {
    const sound = chime();
    fill(banner, h("div", { class: `banner ${kind}`, dataset: { kind, sound } }, content));
  }

  function renderStudentQueue() {
    const view = state.queue || { entry: null, queueLength: 0, estimatedWaitMinutes: 0 };
    const entry = view.entry;
    if (entry && entry.status === "waiting") {
      fill(
        queueBox,
        h(
          "p",
          { id: "oh-position", dataset: { position: entry.position } },
          `You are number ${entry.position} in line. Estimated wait: about ${minutes(entry.estimatedWaitMinutes)}.`,
        ),
        h("p", { class: "muted" }, `Your question: ${entry.question}`),
        h("button", { type: "button", class: "secondary", onclick: leaveQueue }, "Leave the queue"),
      );
      if (entry.position !== 1 && banner.querySelector(".up-next")) fill(banner);
    } else if (entry && entry.status === "admitted") {
      fill(queueBox, h("p", {}, entry.admittedBy ? `You have been admitted: ${entry.admittedBy.name} is seeing you.` : "You have been admitted."));
    } else if (state.isOpen) {
      // The same form across redraws (frames arrive while the student types).
      joinForm = joinForm || buildJoinForm();
      joinForm.estimate.textContent = `Joining now: about ${minutes(view.estimatedWaitMinutes)}.`;
      if (!queueBox.contains(joinForm.form)) fill(queueBox, joinForm.form);
    } else {
      fill(queueBox, h("p", { class: "muted" }, "The queue is closed."));
    }
  }

  let joinForm = null;

  function buildJoinForm() {
    const [ql, qi] = field("Your question", { tag: "textarea", required: true, maxlength: 1000, rows: 2 });
    const estimate = h("p", { class: "muted" });
    const form = h("form", { class: "stack", "aria-label": "Join the office-hours queue" }, ql, qi, estimate, h("button", { type: "submit" }, "Join the queue"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const joined = await attempt(() => api("POST", `/api/office-hours/queue/${instructorId}/join`, { question: qi.value.trim() }));
      if (joined) {
        qi.value = "";
        fill(banner);
        state.queue = joined;
        state.isOpen = joined.isOpen;
        render();
      }
    });
    return { form, estimate };
  }

  async function leaveQueue() {
    const left = await attempt(() => api("POST", `/api/office-hours/queue/${instructorId}/leave`));
    if (left) await loadQueue();
  }

  function setOwnEntry(changes) {
    if (!state.queue || !state.queue.entry) return loadQueue();
    Object.assign(state.queue.entry, changes);
    render();
  }

  // -- the queue: staff (the instructor, TAs) --------------------------------------------------

  // The queue is redrawn on every change; what staff are typing (a reason) and where
  // the keyboard focus is survive the redraw.
  const reasons = new Map();

  function renderInstructorQueue() {
    const view = state.queue || { entries: [] };
    const focused = queueBox.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    const caret = focused && document.activeElement.selectionStart;
    const rows = view.entries.map((entry) => {
      const reasonInput = h("input", {
        type: "text",
        maxlength: 200,
        "aria-label": `Reason for removing ${entry.student.name}`,
        placeholder: "Reason",
        class: "reason",
        dataset: { focusKey: `${entry.id}:reason` },
      });
      reasonInput.value = reasons.get(entry.id) || "";
      reasonInput.addEventListener("input", () => reasons.set(entry.id, reasonInput.value));
      const remove = async () => {
        if (!reasonInput.value.trim()) {
          reasonInput.focus();
          ctx.showError("Give a reason to remove a student from the queue.");
          return;
        }
        if (await act(`/api/office-hours/queue/entries/${entry.id}/remove`, { reason: reasonInput.value.trim() })) reasons.delete(entry.id);
      };
      return h(
        "li",
        { dataset: { entryId: entry.id, status: entry.status } },
        h(
          "div",
          {},
          h("strong", {}, entry.status === "admitted" ? "admitted" : `#${entry.position}`),
          ` ${entry.student.name} `,
          entry.status === "admitted" && entry.admittedBy
            ? h("span", { class: "muted admitted-by" }, `with ${entry.admittedBy.id === ctx.me.id ? "you" : entry.admittedBy.name}`)
            : h("span", { class: "muted" }, `waiting ${entry.waitingMinutes ?? 0} min`),
        ),
        h("div", { class: "question" }, entry.question),
        h(
          "div",
          { class: "actions" },
          entry.status === "waiting"
            ? h("button", { type: "button", dataset: { focusKey: `${entry.id}:admit` }, onclick: () => act(`/api/office-hours/queue/${instructorId}/admit`, { entryId: entry.id }) }, `Admit ${entry.student.name}`)
            : [
                h("button", { type: "button", dataset: { focusKey: `${entry.id}:complete` }, onclick: () => act(`/api/office-hours/queue/entries/${entry.id}/complete`) }, `Complete ${entry.student.name}`),
                h("button", { type: "button", class: "secondary", dataset: { focusKey: `${entry.id}:undo` }, onclick: () => act(`/api/office-hours/queue/entries/${entry.id}/requeue`) }, "Undo admit"),
              ],
          reasonInput,
          h("button", { type: "button", class: "danger", dataset: { focusKey: `${entry.id}:remove` }, onclick: remove }, "Remove"),
        ),
      );
    });
    fill(
      queueBox,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", id: "oh-admit-next", dataset: { focusKey: "admit-next" }, onclick: () => act(`/api/office-hours/queue/${instructorId}/admit`, {}) }, "Admit next"),
        view.meanServiceMinutes ? h("span", { class: "muted" }, ` mean time with a student: ${Math.round(view.meanServiceMinutes)} min`) : null,
      ),
      h("ul", { class: "plain rows", id: "oh-entries" }, rows.length ? rows : h("li", { class: "muted" }, "Nobody is waiting.")),
    );
    const again = focused && queueBox.querySelector(`[data-focus-key="${focused}"]`);
    if (again) {
      again.focus();
      if (typeof caret === "number" && again.setSelectionRange) again.setSelectionRange(caret, caret);
    }
  }

  async function act(path, body) {
    const done = await attempt(() => api("POST", path, body));
    // The full view follows as office-hours-queue-updated; read it now as well, so the
    // page is right even if that frame is late.
    if (done) await loadQueue();
    return Boolean(done);
  }

  function render() {
    renderStatus();
    renderStaffOnline();
    if (staffView()) renderInstructorQueue();
    else renderStudentQueue();
  }

  // -- frames ----------------------------------------------------------------------------------

  offs.push(
    socket.on("office-hours-opened", (data) => forMe(data) && ((state.isOpen = true), render())),
    socket.on("office-hours-closed", (data) => forMe(data) && ((state.isOpen = false), render())),
    socket.on("office-hours-schedule-updated", (data) => {
      if (!forMe(data)) return;
      // Staff see inactive slots too, which the frame leaves out: they read the schedule again.
      if (staff) return void loadSchedule();
      state.slots = data.slots;
      renderSlots();
    }),
    socket.on("office-hours-queue-length", (data) => {
      if (!forMe(data) || !state.queue) return;
      state.queue.queueLength = data.queueLength;
      renderStatus();
    }),
    socket.on("office-hours-queue-updated", (data) => {
      if (!forMe(data) || !staff) return;
      state.queue = data;
      state.isOpen = data.isOpen;
      render();
    }),
    socket.on("office-hours-student-left", (data) => forMe(data) && mine && ctx.notice(`${data.student.name} left the queue.`)),
    socket.on("office-hours-position-changed", (data) => forMe(data) && setOwnEntry({ position: data.position, estimatedWaitMinutes: data.estimatedWaitMinutes, status: "waiting" })),
    socket.on("office-hours-up-next", (data) => {
      if (!forMe(data)) return;
      setOwnEntry({ position: 1, estimatedWaitMinutes: data.estimatedWaitMinutes, status: "waiting" });
      showBanner("up-next", h("strong", {}, "You're up next!"));
    }),
    socket.on("office-hours-admitted", (data) => {
      if (!forMe(data)) return;
      const who = data.admittedBy || { id: instructorId, name: instructor.name };
      setOwnEntry({ status: "admitted", admittedBy: who });
      const where = [];
      if (data.meetingUrl) where.push(h("a", { href: data.meetingUrl, rel: "noopener", target: "_blank", id: "oh-join-link" }, "Join here"));
      if (data.location) where.push(` (${data.location})`);
      showBanner("admitted", [
        h("strong", {}, "Admitted: "),
        h("span", { id: "oh-admitted-by", dataset: { userId: who.id } }, who.name),
        where.length ? [" is coming. ", where] : " is ready for you.",
      ]);
    }),
    socket.on("office-hours-announcement", (data) => forMe(data) && addAnnouncement(data)),
    socket.on("office-hours-announcement-deleted", (data) => {
      if (!forMe(data)) return;
      state.announcements = state.announcements.filter((a) => a.id !== data.id);
      renderAnnouncements();
    }),
    socket.on("office-hours-removed", (data) => {
      if (!forMe(data)) return;
      fill(banner);
      ctx.notice(`You were removed from the queue: ${data.reason}`, { tone: "warn" });
      loadQueue();
    }),
    socket.on("office-hours-completed", (data) => {
      if (!forMe(data)) return;
      fill(banner);
      ctx.notice("Your office-hours visit is complete.");
      loadQueue();
    }),
  );

  // -- loading ----------------------------------------------------------------------------------

  /** Takes a view of the queue (REST or the join ack); a student's carries the latest announcements. */
  function takeView(view) {
    state.queue = view;
    state.isOpen = view.isOpen;
    if (view.announcements) {
      state.announcements = view.announcements;
      renderAnnouncements();
    }
    render();
  }

  async function loadQueue() {
    const view = await attempt(() => api("GET", `/api/office-hours/queue/${instructorId}${qs({ limit: 200 })}`));
    if (!view || !alive) return;
    takeView(view);
  }

  async function loadSchedule() {
    const schedule = await attempt(() => api("GET", `/api/office-hours/instructor/${instructorId}`));
    if (!alive || !schedule) return;
    state.slots = schedule.slots;
    state.isOpen = schedule.isOpen;
    renderSlots();
  }

  async function loadAnnouncements() {
    // The staff view has no announcements in it: staff read the queue's latest.
    const latest = await attempt(() => api("GET", `/api/office-hours/queue/${instructorId}/announcements`));
    if (!alive || !latest) return;
    state.announcements = latest.slice(0, 5);
    renderAnnouncements();
  }

  async function reload() {
    await loadSchedule();
    await loadQueue();
    if (staffView()) await loadAnnouncements();
  }

  async function enterRoom() {
    // The room brings queue length, open/close and announcements; the ack is our view of the queue.
    const view = await socket.request("join-office-hours-queue", { instructorId });
    if (!alive) return;
    takeView(view);
  }

  socket.track(room, { join: enterRoom, reload });
  reload().then(() => {
    if (socket.state === "connected") enterRoom().catch(() => {});
  });
  const offOpen = (event) => {
    // First connect after this view was built (the page loaded before the socket was up).
    if (!event.detail.reconnected) enterRoom().catch(() => {});
  };
  socket.addEventListener("open", offOpen);

  return {
    reload,
    /** The course page's presence changed: who of the staff is online may have too. */
    presenceChanged: renderStaffOnline,
    destroy() {
      alive = false;
      for (const off of offs) off();
      socket.removeEventListener("open", offOpen);
      // Not leave-office-hours-queue: that would also withdraw a waiting student's entry.
      // The socket stays in the room (counts and open/close only) until it closes.
      socket.untrack(room);
    },
  };
}
