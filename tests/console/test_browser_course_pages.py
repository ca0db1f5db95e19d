"""A course's pages in real browsers, each user in a headless Chromium window of their own:
the office-hours queue (a student admitted gets the link; a TA serves the queue while the
student sees who is online and coming), a study group formed, talking and run by its
admin, and the header's role badge (the course on screen, or the account's). Against the
Procfile's web process with a Celery worker and beat, on PostgreSQL and Redis."""

from __future__ import annotations

from datetime import date

import pytest
from selenium.webdriver.support.ui import Select

from collab.courses.models import EnrollmentRole
from collab.courses.services import enrollment_role_update
from officehours import services
from tests.console.browser import Page
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.liveSessions.factories import live_session

# The stack is module-scoped: split across pytest-xdist workers it starts once per worker.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.e2e,
    pytest.mark.browser,
]


def header_role(page: Page) -> tuple[str, str]:
    """The header badge's text and whether it is the role in a course or the account's."""
    return page.text("#me-role"), page.find("#me-role").get_attribute("data-scope")


def test_office_hours_queue_admit_and_the_student_gets_the_link(browsers, klass):
    instructor, _course, (bea, cal) = klass
    teacher, student, second = browsers("instructor"), browsers("bea"), browsers("cal")
    teacher.sign_in(instructor.email)
    student.sign_in(bea.email)
    second.sign_in(cal.email)

    teacher.wait_text("#oh-status", "closed")
    student.wait_text("#oh-queue", "The queue is closed.")

    # A weekly slot with its time zone and meeting link (the link the admitted student gets).
    # The day after tomorrow: the slot is not in progress, so only the button opens the queue.
    day_after_tomorrow = (date.today().isoweekday() + 2) % 7  # 0 = Sunday, as the API counts
    Select(teacher.labelled("Day")).select_by_value(str(day_after_tomorrow))
    Select(teacher.labelled("Time zone")).select_by_value("Europe/Paris")
    teacher.labelled("Meeting link").send_keys("https://meet.example.com/ada")
    teacher.button("Add slot")
    teacher.wait_text("#oh-slots", "(Europe/Paris)")
    student.wait_text("#oh-slots", "(Europe/Paris)")

    teacher.button("Open the queue")
    student.wait_text("#oh-status", "open")
    second.wait_text("#oh-status", "open")

    # A bad request shows the API's own message.
    student.button("Join the queue")  # the browser's required-field check stops an empty one
    assert not student.errors()
    student.labelled("Your question").send_keys("   ")
    student.button("Join the queue")
    student.wait(lambda: "question" in student.errors(), "the API's message about the question")
    assert "[object Object]" not in student.errors()

    student.labelled("Your question").send_keys("Why does my closure capture the last i?")
    student.button("Join the queue")
    student.wait_text("#oh-position", "You are number 1 in line")
    second.labelled("Your question").send_keys("Is the homework due Friday?")
    second.button("Join the queue")
    second.wait_text("#oh-position", "You are number 2 in line. Estimated wait: about 20 minutes.")
    teacher.wait_text("#oh-entries", "Why does my closure capture the last i?")
    teacher.wait_text("#oh-status", "2 waiting")

    # Admitted: Bea gets the link; Cal moves up, live, and is told he is next (seen and heard).
    teacher.button("Admit next")
    student.wait(lambda: student.finds("#oh-banner .banner.admitted"), "the admitted banner")
    link = student.find("#oh-join-link")
    assert link.text == "Join here"
    assert link.get_attribute("href") == "https://meet.example.com/ada"
    second.wait_text("#oh-position", "You are number 1 in line")
    second.wait_text("#oh-banner", "You're up next!")
    assert second.find("#oh-banner .banner").get_attribute("data-sound")  # the chime was played (or refused)

    # Undo puts Bea back in her place (ahead of Cal); admit her again, then complete.
    teacher.button("Undo admit")
    student.wait_text("#oh-position", "You are number 1 in line")
    second.wait_text("#oh-position", "You are number 2 in line")
    teacher.button("Admit Bea Student")
    student.wait(lambda: student.finds("#oh-banner .banner.admitted"), "admitted again")
    teacher.button("Complete Bea Student")
    student.wait_text("#notices", "complete")

    # Removing needs a reason; Cal is told which.
    entry = "#oh-entries li"
    teacher.wait(lambda: teacher.find(entry).get_attribute("data-status") == "waiting", "Cal waiting")
    teacher.type(f"{entry} input.reason", "asked in the forum instead")
    teacher.button("Remove", within=entry)
    second.wait_text("#notices", "You were removed from the queue: asked in the forum instead")
    teacher.wait_text("#oh-entries", "Nobody is waiting.")
    assert not teacher.errors() and not second.errors()


def test_a_study_group_forms_talks_and_is_run_by_its_admin(browsers, klass):
    _instructor, _course, (bea, cal) = klass
    founder, peer = browsers("bea"), browsers("cal")
    founder.sign_in(bea.email)
    peer.sign_in(cal.email)

    founder.labelled("Group name").send_keys("Closure club")
    founder.labelled("Maximum members").clear()
    founder.labelled("Maximum members").send_keys("4")
    founder.button("Create group")
    founder.wait_text("#group-members", "Bea Student")
    founder.wait_text("#group-members", "admin")

    # The course hears of the new group; Cal joins from the list.
    peer.wait_text("#group-list", "Closure club")
    peer.button("Join Closure club")
    peer.wait_visible("#leave-group")
    founder.wait_text("#group-members", "Cal Student")
    founder.wait_text("main", "2 / 4 members")

    # Chat both ways, live.
    peer.wait(lambda: peer.find("#group-chat-input").is_enabled(), "the chat to open")
    peer.type("#group-chat-input", "meet at 5?\n")
    founder.wait_text("#messages", "meet at 5?")
    founder.type("#group-chat-input", "yes, library\n")
    peer.wait_text("#messages", "yes, library")

    # The admin renames the group (Cal sees it) and finally deletes it (Cal is told).
    name = founder.labelled("Name", within="form[aria-label='Edit the group']")
    name.clear()
    name.send_keys("Closures & scope")
    founder.button("Save changes")
    peer.wait(lambda: peer.find("#view h2").text == "Closures & scope", "the new name")
    assert not peer.finds("#delete-group")  # members are not admins

    # The admin removes Cal: his page says so and closes the chat; the list follows.
    founder.button("Remove Cal Student")
    peer.wait_text("#notices", "You are no longer a member of “Closures & scope”.")
    peer.wait_visible("#join-group")
    assert not peer.find("#group-chat-input").is_enabled()
    founder.wait_no_text("#group-members", "Cal Student")
    founder.button("Delete group")
    founder.button("Really delete this group?")
    peer.wait_text("#notices", "was deleted by Bea Student")
    peer.wait_text("main", "This group was deleted.")
    founder.wait_text("#group-list", "No study groups yet.")


def test_a_ta_serves_the_queue_and_the_student_sees_who_is_online_and_coming(browsers, klass):
    """A teaching assistant's console: the course page shows roles, the TA gets the staff
    queue view (admit next, complete, remove with a reason), announces, adds their own
    weekly slot; the student sees which staff are online, the announcement, and who is
    coming with that TA's meeting link."""
    instructor, course, (bea, _cal) = klass
    tia = UserFactory(name="Tia TA")
    EnrollmentFactory(course=course, user=tia, role=EnrollmentRole.TA)
    services.queue_open(actor=instructor, instructor_id=instructor.id)
    assistant, student = browsers("ta"), browsers("bea")
    assistant.sign_in(tia.email)
    student.sign_in(bea.email)

    # Roles on the course page: each window says its own, the list marks the TA, and the
    # header's badge is the role in this course (Tia's account is a student's).
    assistant.wait_text("#course-role", "TA")
    assistant.wait_text("#course-list", "TA")
    student.wait_text("#course-role", "student")
    assert header_role(assistant) == ("TA", "course") and header_role(student) == ("student", "course")
    student.wait(
        lambda: [e.text for e in student.finds('#presence-list li[data-role="ta"] .name')] == ["Tia TA"],
        "Tia marked TA in the presence list",
    )
    # During office hours the student sees which staff are online.
    student.wait_text("#oh-status", "open")
    student.wait_text("#oh-staff", "Staff online now: Tia TA (TA)")

    # The TA adds their own weekly slot (not in progress) with their meeting link.
    day_after_tomorrow = (date.today().isoweekday() + 2) % 7
    Select(assistant.labelled("Day")).select_by_value(str(day_after_tomorrow))
    assistant.labelled("Meeting link").send_keys("https://meet.example.com/tia")
    assistant.button("Add slot")
    assistant.wait_text("#oh-slots", "with Tia TA")
    student.wait_text("#oh-slots", "with Tia TA")

    # An announcement reaches the student live.
    assistant.labelled("Announcement").send_keys("Back in five minutes")
    assistant.button("Announce")
    student.wait_text("#oh-announcements", "Back in five minutes")

    # The student joins; the TA's staff view shows the question; admit next names the TA.
    student.labelled("Your question").send_keys("How do closures capture variables?")
    student.button("Join the queue")
    student.wait_text("#oh-position", "You are number 1 in line")
    assistant.wait_text("#oh-entries", "How do closures capture variables?")
    assistant.button("Admit next")
    student.wait(lambda: student.finds("#oh-banner .banner.admitted"), "the admitted banner")
    assert student.find("#oh-admitted-by").text == "Tia TA"
    assert student.find("#oh-join-link").get_attribute("href") == "https://meet.example.com/tia"
    assistant.wait_text("#oh-entries", "with you")
    assistant.button("Complete Bea Student")
    student.wait_text("#notices", "complete")

    # A second question is removed with a reason; the student is told which.
    student.labelled("Your question").send_keys("Is this on the exam?")
    student.button("Join the queue")
    entry = "#oh-entries li"
    assistant.wait(
        lambda: assistant.find(entry).get_attribute("data-status") == "waiting", "the second question waiting"
    )
    assistant.type(f"{entry} input.reason", "covered in the lecture notes")
    assistant.button("Remove", within=entry)
    student.wait_text("#notices", "You were removed from the queue: covered in the lecture notes")
    assistant.wait_text("#oh-entries", "Nobody is waiting.")

    # The TA takes the announcement back, then goes invisible: the student sees both.
    assistant.button("Delete", within="#oh-announcements li")
    student.wait_no_text("#oh-announcements", "Back in five minutes")
    assistant.set_status("Invisible")
    student.wait_text("#oh-staff", "No staff online right now.")
    assert not assistant.errors() and not student.errors()


def test_the_header_shows_my_role_in_the_course_on_screen_and_the_account_role_elsewhere(browsers, klass):
    """A student account that is a TA in another course: the header badge follows the course
    on screen (its course page, one of its sessions), says the account's role on a page of
    no course (an open session), and follows a role change live."""
    instructor, course, (bea, _cal) = klass
    other = CourseFactory(title="Algorithms")
    EnrollmentFactory(course=other, user=bea, role=EnrollmentRole.TA)
    of_other = live_session(other, title="Graphs")
    open_one = live_session(None, instructor=instructor, title="Open hour")
    page = browsers("bea")
    page.sign_in(bea.email)
    page.wait_text("#course-list", "Algorithms")

    page.open(f"/#/courses/{course.id}")
    page.wait(lambda: header_role(page) == ("student", "course"), "student in JavaScript Fundamentals")
    page.open(f"/#/courses/{other.id}")
    page.wait(lambda: header_role(page) == ("TA", "course"), "TA in Algorithms")
    page.open(f"/#/sessions/{of_other.id}")
    page.wait_text("#view h2", "Graphs")
    page.wait(lambda: header_role(page) == ("TA", "course"), "TA on a session of Algorithms")
    page.open(f"/#/sessions/{open_one.id}")
    page.wait_text("#view h2", "Open hour")
    page.wait(lambda: header_role(page) == ("student", "account"), "the account's role on an open session")

    # The instructor makes Bea a student of Algorithms: the header follows on its page.
    page.open(f"/#/courses/{other.id}")
    page.wait(lambda: header_role(page) == ("TA", "course"), "TA in Algorithms")
    enrollment_role_update(actor=other.instructor, course=other, user_id=bea.id, role=EnrollmentRole.STUDENT)
    page.wait(lambda: header_role(page) == ("student", "course"), "student in Algorithms after the change")
    assert not page.errors()
