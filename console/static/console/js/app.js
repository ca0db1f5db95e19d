// The console: sign-in, the header (who I am, my status, the connection), my courses,
// and the router that shows one view at a time (#/courses/:id, #/sessions/:id,
// #/groups/:id). Views live in ./views/ and get the shared context built here.

import { Auth, errorText } from "./api.js";
import { fill, h } from "./dom.js";
import { Socket } from "./socket.js";
import { courseView } from "./views/course.js";
import { groupView } from "./views/group.js";
import { sessionView } from "./views/session.js";

const $ = (id) => document.getElementById(id);

const auth = new Auth();
const socket = new Socket(auth);

const CONNECTION_TEXT = {
  idle: "Signed out",
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/** Shared by every view. */
const ctx = {
  auth,
  socket,
  courses: new Map(),
  /** REST call: resolves to JSON, rejects with an ApiError carrying the API's message. */
  api: (method, path, body, options) => auth.request(method, path, body, options),
  get me() {
    return auth.user;
  },
  showError,
  notice,
  /** The course on screen (a course page, or the course of a session or group page): the
   * header shows my role in it. null: no course. */
  viewingCourse(courseId) {
    viewedCourseId = courseId || null;
    showRole();
  },
  navigate: (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  /** Runs `action`; any failure is shown as the API's message. Returns its result. */
  async attempt(action) {
    try {
      return await action();
    } catch (error) {
      showError(error);
      return undefined;
    }
  },
};

function showError(error) {
  const text = typeof error === "string" ? error : errorText(error);
  const item = h(
    "div",
    { class: "error" },
    h("span", {}, text),
    h("button", { type: "button", class: "link", "aria-label": "Dismiss this message", onclick: () => item.remove() }, "×"),
  );
  const box = $("errors");
  box.append(item);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => item.remove(), 20000);
}

/** A polite announcement, visible for a while (and read by screen readers). */
function notice(text, { tone = "info", sticky = false } = {}) {
  const item = h("div", { class: `notice ${tone}` }, text);
  $("notices").append(item);
  while ($("notices").children.length > 4) $("notices").firstElementChild.remove();
  if (!sticky) setTimeout(() => item.remove(), 12000);
  return item;
}

// -- connection indicator ------------------------------------------------------------

socket.addEventListener("state", (event) => {
  const { state, retryInMs } = event.detail;
  const el = $("connection");
  el.dataset.state = state;
  let text = CONNECTION_TEXT[state] || state;
  if (state === "reconnecting" && retryInMs) text = `Reconnecting (next try in ${Math.ceil(retryInMs / 1000)} s)…`;
  el.textContent = text;
});
socket.addEventListener("logged-out", () => signedOutLocally("You were signed out (from this or another window)."));
socket.addEventListener("server-error", (event) => showError(event.detail.message || "The server refused a frame."));
socket.addEventListener("recover-failed", (event) => showError(event.detail.error));
socket.addEventListener("recovered", () => {
  if (location.hash) notice("Reconnected: everything you missed is shown.");
});

// -- my role in the header ---------------------------------------------------------------

const COURSE_ROLE_TEXT = { instructor: "instructor", ta: "TA", student: "student" };
let viewedCourseId = null;

/** The header badge: my role in the course on screen (instructor, TA or student) where the
 * console knows it (a course of mine); my account's role (student, instructor, admin)
 * where no course is on screen, or for an admin looking at a course they are not in. */
function showRole() {
  const badge = $("me-role");
  const course = viewedCourseId ? ctx.courses.get(viewedCourseId) : null;
  const inCourse = course && COURSE_ROLE_TEXT[course.role];
  if (inCourse) {
    badge.textContent = inCourse;
    badge.title = `Your role in ${course.title}`;
    badge.dataset.scope = "course";
  } else if (auth.user) {
    badge.textContent = auth.user.role;
    badge.title = "Your account's role";
    badge.dataset.scope = "account";
  }
}

// -- sign in / out -------------------------------------------------------------------

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = event.target.querySelector("button");
  button.disabled = true;
  try {
    await auth.login($("signin-email").value.trim(), $("signin-password").value);
    $("signin-password").value = "";
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await auth.logout();
  } catch (error) {
    // The server could not be told (offline?): this tab forgets the tokens anyway.
    showError(error);
  }
});

auth.addEventListener("signed-in", () => startSession());
auth.addEventListener("signed-out", (event) => signedOutLocally(event.detail && event.detail.message));

function signedOutLocally(message) {
  socket.stop();
  auth.clear();
  currentView?.destroy?.();
  currentView = null;
  ctx.courses.clear();
  viewedCourseId = null;
  $("whoami").hidden = true;
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  fill($("view"));
  fill($("course-list"));
  document.title = "collab console";
  if (message) showError(message);
  $("signin-email").focus();
}

async function startSession() {
  const me = auth.user;
  $("me-name").textContent = me.name;
  showRole();
  $("whoami").hidden = false;
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  socket.track(`user-${me.id}`, { reload: () => Promise.all([loadCourses(), loadMyPresence()]) });
  socket.start();
  await Promise.all([loadCourses(), loadMyPresence()]);
  route();
}

// -- my status ------------------------------------------------------------------------

async function loadMyPresence() {
  const mine = await ctx.attempt(() => ctx.api("GET", `/api/presence/user/${auth.user.id}`));
  if (mine) $("status-picker").value = mine.status;
}

$("status-picker").addEventListener("change", async (event) => {
  const status = event.target.value;
  try {
    // The socket's update-presence when connected (the course rooms hear it at once);
    // REST otherwise: the same service either way.
    const own =
      socket.state === "connected"
        ? await socket.request("update-presence", { status })
        : await ctx.api("PUT", "/api/presence/status", { status });
    event.target.value = own.status;
    notice(status === "offline" ? "You are invisible: others see you offline." : `Your status is ${status}.`);
  } catch (error) {
    showError(error);
    loadMyPresence();
  }
});

socket.on("presence-changed", (data, frame) => {
  if (auth.user && frame.room === `user-${auth.user.id}`) $("status-picker").value = data.status;
});

// -- my courses -----------------------------------------------------------------------

async function loadCourses() {
  const courses = await ctx.attempt(() => ctx.api("GET", "/api/courses"));
  if (!courses) return;
  ctx.courses.clear();
  for (const course of courses) ctx.courses.set(course.id, course);
  renderCourses();
  // A role may have changed (course-role-changed), or the list arrived after the page.
  showRole();
}

function renderCourses() {
  const list = $("course-list");
  const selected = location.hash.startsWith("#/courses/") ? location.hash.split("/")[2] : null;
  fill(
    list,
    [...ctx.courses.values()].map((course) =>
      h(
        "li",
        {},
        h(
          "a",
          { href: `#/courses/${course.id}`, "aria-current": course.id === selected ? "page" : null },
          course.title,
          h("span", { class: "muted" }, ` · ${course.instructor.name}`),
          course.role === "ta" ? h("span", { class: "badge role" }, "TA") : null,
        ),
      ),
    ),
  );
  if (!ctx.courses.size) list.append(h("li", { class: "muted" }, "You have no courses yet."));
}

socket.on("course-enrolled", (data) => {
  notice(`You were added to ${data.title}.`);
  loadCourses();
});
socket.on("course-role-changed", (data) => {
  const course = ctx.courses.get(data.courseId);
  const what = data.role === "ta" ? "a teaching assistant" : "a student";
  notice(`You are now ${what} in ${course ? course.title : "a course"}.`);
  loadCourses();
  // The course page shows what the role allows: draw it again.
  if (currentView && location.hash.includes(data.courseId)) currentView.reload?.();
});
socket.on("course-unenrolled", (data) => {
  const course = ctx.courses.get(data.courseId);
  notice(`You were removed from ${course ? course.title : "a course"}.`, { tone: "warn" });
  loadCourses();
  if (location.hash.includes(data.courseId)) ctx.navigate("#/");
});

// -- routing --------------------------------------------------------------------------

let currentView = null;

function route() {
  if (!auth.signedIn) return;
  renderCourses();
  const [, kind, id] = location.hash.split("/");
  const key = `${kind}/${id}`;
  if (currentView && currentView.key === key) return;
  currentView?.destroy?.();
  currentView = null;
  const container = $("view");
  fill(container);
  const views = { courses: courseView, sessions: sessionView, groups: groupView };
  // A course page's course is known now; a session's or group's once its view has read it.
  ctx.viewingCourse(kind === "courses" ? id : null);
  if (views[kind] && id) {
    currentView = views[kind](ctx, container, id);
    currentView.key = key;
  } else {
    const first = [...ctx.courses.values()][0];
    if (first) {
      ctx.navigate(`#/courses/${first.id}`);
      return;
    }
    container.append(h("section", { class: "card" }, h("h2", {}, "Welcome"), h("p", {}, "Pick a course.")));
  }
}

window.addEventListener("hashchange", route);

// For the browser tests and the curious: the live objects, read-only by convention.
window.collabConsole = { auth, socket, ctx };

// -- start ----------------------------------------------------------------------------

(async () => {
  try {
    if (await auth.restore()) return;
  } catch (error) {
    if (auth.refreshToken) showError(error);
  }
  signedOutLocally(null);
})();
