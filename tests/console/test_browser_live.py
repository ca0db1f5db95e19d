"""Live sessions in real browsers: an instructor and two students in separate headless
Chromium windows running a class at once, a cut connection coming back showing what it
missed, a page resuming across a web process restart without reloading, and the client
keeping each seq once and recovering its rooms by the resume answer. Against the Procfile's
web process with a Celery worker and beat, on PostgreSQL and Redis; everything a window
shows after its first load arrives as socket frames (the console never polls)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from liveSessions.models import SessionMessage
from tests.console.browser import Page

# The stack is module-scoped: split across pytest-xdist workers it starts once per worker.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.e2e,
    pytest.mark.browser,
]


def presence_names(page: Page) -> list[str]:
    return [item.text for item in page.finds("#presence-list li .name")]


def message_texts(page: Page) -> list[str]:
    return [item.text for item in page.finds("#messages li .text")]


def sign_in_all(browsers, klass) -> tuple[Page, Page, Page]:
    instructor, _course, (bea, cal) = klass
    pages = browsers("instructor"), browsers("bea"), browsers("cal")
    for page, user in zip(pages, (instructor, bea, cal), strict=True):
        page.sign_in(user.email)
        page.wait_text("#course-list", "JavaScript Fundamentals")
    return pages


def test_a_class_runs_live_across_three_windows(browsers, klass):
    teacher, bea, cal = sign_in_all(browsers, klass)

    # Who is online, live: everyone sees the other two.
    for page in (teacher, bea, cal):
        page.wait(
            lambda p=page: {"Ada Instructor", "Bea Student", "Cal Student"} <= set(presence_names(p)), "everyone online"
        )
    assert teacher.text("#whoami").startswith("Ada Instructor")

    # The instructor schedules and starts a session; the students' pages show it live.
    teacher.labelled("Title").send_keys("Closures")
    teacher.button("Schedule")
    for page in (bea, cal):
        page.wait_text("#session-list", "Closures")
        page.wait(lambda p=page: p.find("#session-list li").get_attribute("data-status") == "scheduled", "scheduled")
    teacher.button("Start “Closures”")
    teacher.wait_text("#session-status", "live")
    for page in (bea, cal):
        page.wait(lambda p=page: p.find("#session-list li").get_attribute("data-status") == "live", "the session live")
        page.wait_text("#notices", "“Closures” has started.")

    # Both students enter the room; seats and attendees follow.
    for page in (bea, cal):
        page.click("#session-list li a")
        page.click("#join-session")
        page.wait_visible("#leave-session")
    teacher.wait_text("#seats", "Seats: 2 used")
    teacher.wait_text("#attendees", "Bea Student")
    teacher.wait_text("#attendees", "Cal Student")

    # Typing shows for the others and clears when the message is sent.
    cal.type("#chat-input", "hello every")
    bea.wait_text("#typing", "Cal Student is typing…")
    teacher.wait_text("#typing", "Cal Student is typing…")
    cal.type("#chat-input", "one\n")
    for page in (teacher, bea, cal):
        page.wait_text("#messages", "hello everyone")
    bea.wait(lambda: bea.text("#typing") == "", "typing to clear")

    # The host deletes a message; it disappears everywhere.
    bea.type("#chat-input", "an off-topic remark\n")
    teacher.wait_text("#messages", "an off-topic remark")
    teacher.button("Delete", within="#messages li:last-child")
    for page in (teacher, bea, cal):
        page.wait_no_text("#messages", "an off-topic remark")
    assert "hello everyone" in cal.text("#messages")

    # Cal goes invisible and disappears from the others' presence lists (Cal stays connected).
    for page in (teacher, bea, cal):
        page.open("/#/")
        page.wait_text("#presence-list", "Ada Instructor")
    cal.set_status("Invisible")
    cal.wait_text("#notices", "You are invisible")
    for page in (teacher, bea):
        page.wait(lambda p=page: "Cal Student" not in presence_names(p), "Cal to vanish from presence")
    assert cal.connection() == "connected"

    # Signing out closes the socket: the page is back at sign-in and Bea shows offline.
    bea.js("window.__oldSocket = window.collabConsole.socket.ws")
    bea.click("#sign-out")
    bea.wait_visible("#signin-form")
    bea.wait(lambda: bea.js("return window.__oldSocket.readyState") == 3, "the old socket to be closed")
    assert bea.js("return sessionStorage.getItem('collab.refreshToken')") is None
    teacher.wait(lambda: "Bea Student" not in presence_names(teacher), "Bea to go offline")
    assert not teacher.errors() and not cal.errors()


def test_a_cut_connection_comes_back_showing_what_it_missed(browsers, klass):
    instructor, _course, (bea, cal) = klass
    teacher, student, other = browsers("instructor"), browsers("bea"), browsers("cal")
    teacher.sign_in(instructor.email)
    student.sign_in(bea.email)
    other.sign_in(cal.email)

    teacher.labelled("Title").send_keys("Promises")
    teacher.button("Schedule")
    teacher.button("Start “Promises”")
    teacher.wait_text("#session-status", "live")
    # An earlier discussion: the room shows the newest 50 and pages back on request.
    session_id = student.find("#session-list li").get_attribute("data-session-id")
    start = timezone.now() - timedelta(minutes=30)
    SessionMessage.objects.bulk_create(
        SessionMessage(session_id=session_id, author=bea, body=f"earlier {i}", sent_at=start + timedelta(seconds=i))
        for i in range(55)
    )
    student.click("#session-list li a")
    student.wait_text("#messages", "earlier 54")
    assert message_texts(student)[0] == "earlier 5" and len(message_texts(student)) == 50
    student.click("#older-messages")
    student.wait(lambda: message_texts(student)[:2] == ["earlier 0", "earlier 1"], "the older page at the top")
    assert len(message_texts(student)) == 55 and not student.find("#older-messages").is_displayed()
    student.click("#join-session")
    other.click("#session-list li a")
    other.click("#join-session")
    teacher.wait_text("#seats", "Seats: 2 used")

    # Cut Bea's network: new connections to the server fail, and her socket is closed.
    student.driver.execute_cdp_cmd("Network.enable", {})
    student.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/*", "*/ws/*"]})
    student.js("window.collabConsole.socket.ws.close()")
    student.wait(lambda: student.connection() in ("reconnecting", "offline"), "the indicator to leave connected")
    teacher.wait_text("#seats", "Seats: 1 used")

    # Meanwhile the class goes on.
    other.type("#chat-input", "did everyone get the homework?\n")
    teacher.type("#chat-input", "homework is chapter 3\n")
    teacher.wait_text("#messages", "homework is chapter 3")
    assert "chapter 3" not in student.text("#messages")
    assert student.connection() != "connected"

    # The network is back: Bea's page reconnects, re-enters the room and shows what she missed.
    student.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    student.js("window.dispatchEvent(new Event('online'))")
    student.wait_connected()
    student.wait_text("#messages", "did everyone get the homework?")
    student.wait_text("#messages", "homework is chapter 3")
    teacher.wait_text("#seats", "Seats: 2 used")
    student.wait_visible("#leave-session")

    # And she is live again: her new message reaches the others.
    student.type("#chat-input", "back again\n")
    teacher.wait_text("#messages", "back again")
    other.wait_text("#messages", "back again")

    # Her access token is renewed before it expires (at 80% of its life); the renewal
    # rotates the refresh token kept in the tab, and the page goes on working.
    token = student.js("return window.collabConsole.auth.access")
    refresh = student.js("return sessionStorage.getItem('collab.refreshToken')")
    issued, expires = (AccessToken(token)[claim] for claim in ("iat", "exp"))
    due = student.js("return window.collabConsole.auth.refreshDueAt") / 1000
    assert issued + 0.75 * (expires - issued) < due < expires
    student.js("return window.collabConsole.auth.refresh()")
    student.wait(lambda: student.js("return window.collabConsole.auth.access") != token, "a new access token")
    assert student.js("return sessionStorage.getItem('collab.refreshToken')") not in (None, refresh)
    student.type("#chat-input", "still here\n")
    teacher.wait_text("#messages", "still here")


SPY_SCRIPT = """
// What the page fetches and how the server answers its `resume`, and a mark that a
// navigation (a full reload) would wipe.
window.sameDocument = "yes";
window.fetched = [];
const realFetch = window.fetch;
window.fetch = function (input, init) {
  window.fetched.push(String((input && input.url) || input));
  return realFetch.apply(this, arguments);
};
const socket = window.collabConsole.socket;
const realRequest = socket.request.bind(socket);
window.resumes = [];
socket.request = async (event, data) => {
  const answer = await realRequest(event, data);
  if (event === "resume") window.resumes.push({ asked: data, answer });
  return answer;
};
"""


def test_a_page_resumes_across_a_web_process_restart_without_reloading(browsers, klass, stack):
    """Issue 13 end to end: Bea's socket is cut and the web process restarted while the
    class chats on; her page reconnects to the new process, sends `resume` with the last
    seq it saw, and shows every message it missed, in order, once, from the replay: the
    server answers `resumed`, the page re-reads no chat over REST and is never reloaded,
    and her seat is taken again."""
    instructor, _course, (bea, _cal) = klass
    teacher, student = browsers("instructor"), browsers("bea")
    teacher.sign_in(instructor.email)
    student.sign_in(bea.email)
    teacher.labelled("Title").send_keys("Closures")
    teacher.button("Schedule")
    teacher.button("Start “Closures”")
    teacher.wait_text("#session-status", "live")
    session_id = student.find("#session-list li").get_attribute("data-session-id")
    student.click("#session-list li a")
    student.click("#join-session")
    teacher.wait_text("#seats", "Seats: 1 used")
    teacher.type("#chat-input", "before the restart\n")
    student.wait_text("#messages", "before the restart")
    student.js(SPY_SCRIPT)

    # Bea's network is cut (new connections fail), and the web process restarts: every
    # socket drops; the instructor's page comes back on the new process and chats on.
    student.driver.execute_cdp_cmd("Network.enable", {})
    student.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/*", "*/ws/*"]})
    stack.restart_web()
    student.wait(lambda: student.connection() in ("reconnecting", "offline"), "the indicator to leave connected")
    teacher.wait_connected()
    teacher.type("#chat-input", "missed one\n")
    teacher.wait_text("#messages", "missed one")
    teacher.type("#chat-input", "missed two\n")
    teacher.wait_text("#messages", "missed two")
    assert "missed one" not in student.text("#messages")
    fetched_before = student.js("return window.fetched.length")

    # Her network is back: the page reconnects and resumes.
    student.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    student.js("window.dispatchEvent(new Event('online'))")
    student.wait_connected()
    student.wait(
        lambda: message_texts(student)[-3:] == ["before the restart", "missed one", "missed two"],
        "the missed messages, in order, once",
    )
    student.wait(lambda: student.js("return window.resumes.length") == 1, "the resume answer")
    resume = student.js("return window.resumes[0]")
    room = f"session-{session_id}"
    asked = resume["asked"]["rooms"][room]
    assert asked["seq"] >= 1 and asked["id"]  # the last frame it saw, with its id
    assert resume["answer"]["rooms"][room]["status"] == "resumed"
    assert student.js("return window.sameDocument") == "yes"  # no full reload
    fetched = student.js("return window.fetched")[fetched_before:]
    assert not [url for url in fetched if f"/api/live-sessions/{session_id}/messages" in url], fetched
    assert message_texts(student).count("missed one") == 1
    teacher.wait_text("#seats", "Seats: 1 used")  # the resume took her seat again

    # And she is live: her message reaches the instructor.
    student.type("#chat-input", "back on the new server\n")
    teacher.wait_text("#messages", "back on the new server")
    assert not student.errors()


RESUME_SCRIPT = """
const socket = window.collabConsole.socket;
const done = arguments[arguments.length - 1];
const log = [];
const seen = [];
socket.on("attendee-joined", (data) => seen.push(data.n));
const frame = (room, seq, n) => socket.received(JSON.stringify({event: "attendee-joined", room, seq, data: {n}}));
// Each seq of a room once and in order; rooms count apart; frames without seq always pass.
frame("session-a", 1, "a1"); frame("session-a", 2, "a2"); frame("session-a", 2, "a2 again");
frame("session-a", 1, "a1 again"); frame("session-a", 3, "a3");
socket.received(JSON.stringify({event: "attendee-joined", room: "session-b", seq: 1, id: "b-1", data: {n: "b1"}}));
socket.received(JSON.stringify({event: "attendee-joined", room: "session-a", data: {n: "no seq"}}));
for (const room of ["session-a", "session-b", "session-c"]) {
  socket.track(room, {
    join: async () => log.push(`join ${room}`),
    reload: async () => log.push(`reload ${room}`),
    denied: () => log.push(`denied ${room}`),
  });
}
socket.lastSeq.set("session-c", 7);
const answers = [
  () => {
    // The replay comes before the answer: a4 (a5 came live before the resume, and waited).
    frame("session-a", 4, "a4");
    return {rooms: {"session-a": {status: "resumed", seq: 4}, "session-b": {status: "resync", seq: 40},
                    "session-c": {status: "denied", seq: 7}}};
  },
  () => { throw new Error("unknown_event"); },
];
const asked = [];
socket.request = async (event, data) => {
  asked.push([event, data]);
  return answers.shift()();
};
(async () => {
  // Reconnected, resume not answered yet: a live frame that skips a seq waits for it.
  socket.recovering = true;
  frame("session-a", 5, "a5");
  const waited = seen.slice();
  await socket.recover();
  seen.push(`(waited: ${waited.join(" ")})`);
  const first = log.splice(0);
  const resyncSeq = socket.lastSeq.get("session-b");
  await socket.recover();
  done({seen, asked, first, second: log, resyncSeq});
})();
"""


def test_the_client_keeps_each_seq_once_and_recovers_rooms_by_the_resume_answer(browsers):
    """The resume contract (issue 13) on the client side, with the server's answers given:
    `resumed` needs nothing, `resync` re-reads the room, `denied` gives it up, and a server
    without resume (an error) gets every room re-entered and re-read. A live frame that
    skips seqs before the resume is answered waits for the replay."""
    page = browsers("client")
    page.open()
    page.wait(lambda: page.js("return Boolean(window.collabConsole)"), "the console to load")
    result = page.driver.execute_async_script(RESUME_SCRIPT)
    assert result["seen"] == ["a1", "a2", "a3", "b1", "no seq", "a4", "a5", "(waited: a1 a2 a3 b1 no seq)"]
    # With the id of the last frame where it has one (the server checks its history).
    rooms = {"session-a": 3, "session-b": {"seq": 1, "id": "b-1"}, "session-c": 7}
    assert result["asked"][0] == ["resume", {"rooms": rooms}]
    assert result["first"] == ["reload session-b", "denied session-c"]
    assert result["resyncSeq"] == 40
    assert result["asked"][1][0] == "resume"
    assert sorted(result["second"]) == sorted(
        [
            "join session-a",
            "reload session-a",
            "join session-b",
            "reload session-b",
            "join session-c",
            "reload session-c",
        ]
    )
