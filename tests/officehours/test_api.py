"""REST: the role x action matrix for every route, bad input, response shapes, privacy
of the student view and bounded query counts."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from collab.courses.models import EnrollmentRole
from officehours import services
from officehours.models import OfficeHours, OfficeHoursQueue
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.officehours.conftest import join

pytestmark = pytest.mark.django_db

BASE = "/api/office-hours"
SLOT = {"dayOfWeek": 1, "startTime": "09:00", "endTime": "10:30", "timezone": "Europe/Berlin", "location": "B-12"}


@pytest.fixture
def world(instructor, other_instructor, course, student, admin_user):
    """owner = instructor (queue open by hand, one slot), student enrolled and waiting
    (entry_waiting), a second enrolled student admitted (entry_admitted), an outsider."""
    services.queue_open(actor=instructor, instructor_id=instructor.id)
    slot = services.office_hours_create(actor=instructor, day_of_week=2, start_time="09:00", end_time="10:00")
    slot.refresh_from_db()
    admitted_student = UserFactory()
    EnrollmentFactory(course=course, user=admitted_student)
    admitted = join(admitted_student, instructor)
    services.queue_admit(actor=instructor, instructor_id=instructor.id, entry_id=admitted.id)
    waiting = join(student, instructor)
    outsider = UserFactory()
    CourseFactory(instructor=other_instructor)
    ta = UserFactory(name="Course TA")
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    announcement = services.announcement_create(actor=instructor, instructor_id=instructor.id, message="Welcome")
    ta_slot = services.office_hours_create(
        actor=ta, instructor_id=instructor.id, day_of_week=4, start_time="13:00", end_time="14:00"
    )
    return {
        "ta_slot": ta_slot,
        "announcement": announcement,
        "ta": ta,
        "owner": instructor,
        "other_instructor": other_instructor,
        "student": student,
        "outsider": outsider,
        "admin": admin_user,
        "anonymous": None,
        "slot": slot,
        "waiting": waiting,
        "admitted": admitted,
    }


def _request(world, action: str, role: str):
    owner = world["owner"]
    q = f"{BASE}/queue/{owner.id}"
    if role == "student" and action == "join":
        services.queue_leave(actor=world["student"], instructor_id=owner.id)
    return {
        "create": ("post", BASE, SLOT),
        "schedule": ("get", f"{BASE}/instructor/{owner.id}", None),
        "patch": ("patch", f"{BASE}/{world['slot'].id}", {"location": "Room 9"}),
        "delete": ("delete", f"{BASE}/{world['slot'].id}", None),
        "queue": ("get", q, None),
        "join": ("post", f"{q}/join", {"question": "How do I invert a matrix?"}),
        "leave": ("post", f"{q}/leave", {}),
        "admit": ("post", f"{q}/admit", {}),
        "complete": ("post", f"{BASE}/queue/entries/{world['admitted'].id}/complete", {}),
        "remove": ("post", f"{BASE}/queue/entries/{world['waiting'].id}/remove", {"reason": "Duplicate question"}),
        "requeue": ("post", f"{BASE}/queue/entries/{world['admitted'].id}/requeue", {}),
        "open_": ("post", f"{q}/close", {}),  # closes first below, then opens
        "close": ("post", f"{q}/close", {}),
        "create_for": ("post", BASE, {**SLOT, "instructorId": str(owner.id)}),
        "rules": ("patch", f"{BASE}/instructor/{owner.id}", {"rejoinCooldownMinutes": 15}),
        "announce": ("post", f"{q}/announcements", {"message": "Running 5 minutes late"}),
        "announcements": ("get", f"{q}/announcements", None),
        "stats": ("get", f"{q}/stats", None),
        "delete_announcement": ("delete", f"{BASE}/queue/announcements/{world['announcement'].id}", None),
        "patch_ta_slot": ("patch", f"{BASE}/{world['ta_slot'].id}", {"location": "Lab 3"}),
        "delete_ta_slot": ("delete", f"{BASE}/{world['ta_slot'].id}", None),
    }[action]


# expected status per role: owner, admin, other_instructor, student (enrolled), outsider, anonymous,
# ta (a TA of the owner's course: serves the queue, may not own it)
MATRIX = {
    "create": (201, 403, 201, 403, 403, 401, 403),
    "create_for": (201, 403, 403, 403, 403, 401, 201),
    "schedule": (200, 200, 200, 200, 200, 401, 200),
    "rules": (200, 200, 403, 403, 403, 401, 403),
    "patch": (200, 200, 403, 403, 403, 401, 403),
    "delete": (204, 204, 403, 403, 403, 401, 403),
    "queue": (200, 200, 403, 200, 403, 401, 200),
    "join": (403, 403, 403, 201, 403, 401, 403),
    "leave": (403, 403, 403, 200, 403, 401, 403),
    "admit": (200, 200, 403, 403, 403, 401, 200),
    "complete": (200, 200, 404, 404, 404, 401, 200),
    "remove": (200, 200, 404, 403, 404, 401, 200),
    "requeue": (200, 200, 404, 404, 404, 401, 200),
    "open_": (200, 200, 403, 403, 403, 401, 403),
    "close": (200, 200, 403, 403, 403, 401, 403),
    "announce": (201, 201, 403, 403, 403, 401, 201),
    "announcements": (200, 200, 403, 200, 403, 401, 200),
    "stats": (200, 200, 403, 403, 403, 401, 200),
    "delete_announcement": (204, 204, 404, 403, 404, 401, 204),
    # A slot a TA holds in the owner's schedule: the TA and the owner change it.
    "patch_ta_slot": (200, 200, 403, 403, 403, 401, 200),
    "delete_ta_slot": (204, 204, 403, 403, 403, 401, 204),
}
ROLES = ("owner", "admin", "other_instructor", "student", "outsider", "anonymous", "ta")


@pytest.mark.parametrize(
    ("action", "role", "expected"),
    [(action, role, codes[i]) for action, codes in MATRIX.items() for i, role in enumerate(ROLES)],
)
def test_role_action_matrix(world, api, action, role, expected):
    owner = world["owner"]
    if action == "open_":
        services.queue_close(actor=owner, instructor_id=owner.id)
        action_url = ("post", f"{BASE}/queue/{owner.id}/open", {})
    else:
        action_url = _request(world, action, role)
    method, url, body = action_url
    client = api(world[role])
    response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}


def test_refused_transitions_are_409(world, api):
    owner = api(world["owner"])
    waiting, admitted = world["waiting"], world["admitted"]
    for url, code in [
        (f"{BASE}/queue/entries/{waiting.id}/complete", "invalid_transition"),
        (f"{BASE}/queue/entries/{waiting.id}/requeue", "invalid_transition"),
    ]:
        response = owner.post(url, {}, format="json")
        assert response.status_code == 409 and response.json()["error"]["code"] == code
    response = owner.post(f"{BASE}/queue/{world['owner'].id}/admit", {"entryId": str(admitted.id)}, format="json")
    assert response.status_code == 409
    assert owner.post(f"{BASE}/queue/entries/{admitted.id}/complete", {}, format="json").status_code == 200
    for action in ("complete", "requeue"):
        assert owner.post(f"{BASE}/queue/entries/{admitted.id}/{action}", {}, format="json").status_code == 409
    response = owner.post(f"{BASE}/queue/entries/{admitted.id}/remove", {"reason": "x"}, format="json")
    assert response.status_code == 409
    student = api(world["student"])
    assert (
        student.post(f"{BASE}/queue/{world['owner'].id}/join", {"question": "again"}, format="json").status_code == 409
    )
    assert owner.post(f"{BASE}/queue/{world['owner'].id}/open", {}, format="json").json()["error"]["code"] == (
        "already_open"
    )


def test_create_and_read_schedule(api, instructor, student, course):
    response = api(instructor).post(BASE, SLOT, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["dayOfWeek"] == 1 and body["startTime"] == "09:00:00" and body["timezone"] == "Europe/Berlin"
    assert body["instructorId"] == str(instructor.id) and body["isActive"] is True
    inactive = api(instructor).post(BASE, {**SLOT, "dayOfWeek": 3, "isActive": False}, format="json").json()
    # Read at a moment outside the Monday 09:00-10:30 Berlin slot (run on a Monday at 09:04
    # Berlin, the queue was rightly open): the latest Saturday noon before now.
    now = timezone.now()
    saturday = (now - timedelta(days=(now.weekday() - 5) % 7 or 7)).replace(hour=12, minute=0, second=0)
    with time_machine.travel(saturday, tick=False):
        schedule = api(student).get(f"{BASE}/instructor/{instructor.id}").json()
    assert schedule["instructorId"] == str(instructor.id) and schedule["isOpen"] is False
    assert [s["id"] for s in schedule["slots"]] == [body["id"]]  # students see active slots only
    own = api(instructor).get(f"{BASE}/instructor/{instructor.id}").json()
    assert {s["id"] for s in own["slots"]} == {body["id"], inactive["id"]}


def test_a_slot_for_an_unknown_instructor_is_404_blaming_instructor_id(api, student):
    response = api(student).post(BASE, {**SLOT, "instructorId": str(uuid.uuid4())}, format="json")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "instructor_not_found" and error["fields"] == {"instructorId": [error["message"]]}


def test_schedule_of_a_non_instructor_is_404(api, student, other_student):
    response = api(student).get(f"{BASE}/instructor/{other_student.id}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "instructor_not_found"
    assert api(student).get(f"{BASE}/instructor/{uuid.uuid4()}").status_code == 404
    assert api(student).get(f"{BASE}/queue/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SLOT, "endTime": "08:00"}, "endTime"),
        ({**SLOT, "endTime": "09:00"}, "endTime"),
        ({**SLOT, "timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({**SLOT, "timezone": "../../etc/passwd"}, "timezone"),
        ({**SLOT, "dayOfWeek": 7}, "dayOfWeek"),
        ({**SLOT, "dayOfWeek": -1}, "dayOfWeek"),
        ({**SLOT, "dayOfWeek": "monday"}, "dayOfWeek"),
        # issue 15 (negative_data_rejection): DRF coerced these to what the schema forbids.
        ({**SLOT, "dayOfWeek": "1"}, "dayOfWeek"),
        ({**SLOT, "dayOfWeek": True}, "dayOfWeek"),
        ({**SLOT, "dayOfWeek": 1.5}, "dayOfWeek"),
        ({**SLOT, "isActive": "true"}, "isActive"),
        ({**SLOT, "isActive": 1}, "isActive"),
        ({**SLOT, "location": 12}, "location"),
        ({**SLOT, "instructorId": False}, "instructorId"),
        ({**SLOT, "startTime": "25:00"}, "startTime"),
        ({**SLOT, "meetingUrl": "not a url"}, "meetingUrl"),
        ({k: v for k, v in SLOT.items() if k != "dayOfWeek"}, "dayOfWeek"),
    ],
)
def test_bad_slot_input_is_400(api, instructor, body, field):
    response = api(instructor).post(BASE, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert OfficeHours.objects.count() == 0


def test_bad_patch_is_400(api, instructor):
    slot = api(instructor).post(BASE, SLOT, format="json").json()
    response = api(instructor).patch(f"{BASE}/{slot['id']}", {"endTime": "08:00"}, format="json")
    assert response.status_code == 400 and "endTime" in response.json()["error"]["fields"]
    response = api(instructor).patch(f"{BASE}/{slot['id']}", {"timezone": "Nowhere/City"}, format="json")
    assert response.status_code == 400
    response = api(instructor).patch(f"{BASE}/{slot['id']}", {"startTime": "10:00", "endTime": "11:00"}, format="json")
    assert response.status_code == 200 and response.json()["endTime"] == "11:00:00"


@pytest.mark.parametrize("question", ["", "   ", "x" * 1001, None])
def test_bad_question_is_400(api, open_queue, student, question):
    body = {} if question is None else {"question": question}
    response = api(student).post(f"{BASE}/queue/{open_queue.id}/join", body, format="json")
    assert response.status_code == 400 and "question" in response.json()["error"]["fields"]
    assert OfficeHoursQueue.objects.count() == 0


def test_question_of_1000_chars_is_accepted(api, open_queue, student):
    response = api(student).post(f"{BASE}/queue/{open_queue.id}/join", {"question": "q" * 1000}, format="json")
    assert response.status_code == 201


def test_other_bad_input(api, open_queue, student):
    owner = api(open_queue)
    assert owner.post(f"{BASE}/queue/{open_queue.id}/admit", {"entryId": "nope"}, format="json").status_code == 400
    missing = owner.post(f"{BASE}/queue/{open_queue.id}/admit", {"entryId": str(uuid.uuid4())}, format="json")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "entry_not_found"
    assert list(missing.json()["error"]["fields"]) == ["entryId"]
    assert owner.get(f"{BASE}/queue/{open_queue.id}?limit=0").status_code == 400
    # issue 15 (negative_data_rejection): ids are UUID strings, `false` is not UUID 0.
    for entry_id in (False, 0, 1, open_queue.id.hex):
        response = owner.post(f"{BASE}/queue/{open_queue.id}/admit", {"entryId": entry_id}, format="json")
        assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["entryId"], entry_id
    assert owner.get(f"{BASE}/queue/{open_queue.id}?limit=").status_code == 400
    entry = join(student, open_queue)
    for body in ({}, {"reason": ""}, {"reason": "r" * 201}):
        assert owner.post(f"{BASE}/queue/entries/{entry.id}/remove", body, format="json").status_code == 400
    response = api(student).post(f"{BASE}/queue/{open_queue.id}/join", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_join_returns_position_and_estimate_and_closed_queue_is_409(api, instructor, course, student, enroll):
    client = api(student)
    response = client.post(f"{BASE}/queue/{instructor.id}/join", {"question": "Why?"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "queue_closed"
    assert api(instructor).post(f"{BASE}/queue/{instructor.id}/open", {}, format="json").status_code == 200
    (first,) = enroll(1)
    join(first, instructor)
    response = client.post(f"{BASE}/queue/{instructor.id}/join", {"question": "Why?"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["viewer"] == "student" and body["queueLength"] == 2
    assert body["entry"]["position"] == 2 and body["entry"]["estimatedWaitMinutes"] == 20
    assert body["estimatedWaitMinutes"] == 20 and body["isOpen"] is True


def test_student_view_never_shows_other_students(api, open_queue, enroll):
    a, b, c = enroll(3, name="Zed")
    names = {}
    for index, learner in enumerate((a, b, c)):
        learner.name = f"Secretname{index}"
        learner.save()
        names[learner.id] = learner.name
        join(learner, open_queue, question=f"Private question {index}")
    text = api(b).get(f"{BASE}/queue/{open_queue.id}").content.decode()
    for other, index in ((a, 0), (c, 2)):
        assert names[other.id] not in text and f"Private question {index}" not in text and str(other.id) not in text
    assert "Private question 1" in text
    full = api(open_queue).get(f"{BASE}/queue/{open_queue.id}").json()
    assert [e["student"]["name"] for e in full["entries"]] == ["Secretname0", "Secretname1", "Secretname2"]
    assert [e["position"] for e in full["entries"]] == [1, 2, 3]
    assert full["entries"][0]["question"] == "Private question 0"


def test_queue_view_has_bounded_queries(api, open_queue, enroll, django_assert_max_num_queries):
    for learner in enroll(25):
        join(learner, open_queue)
    services.queue_admit(actor=open_queue, instructor_id=open_queue.id)
    client = api(open_queue)
    with django_assert_max_num_queries(8):
        response = client.get(f"{BASE}/queue/{open_queue.id}")
    assert len(response.json()["entries"]) == 25
    assert api(open_queue).get(f"{BASE}/queue/{open_queue.id}?limit=5").json()["entries"].__len__() == 5


def test_schedule_has_bounded_queries(api, instructor, student, course, django_assert_max_num_queries):
    for day in range(7):
        services.office_hours_create(actor=instructor, day_of_week=day, start_time="08:00", end_time="09:00")
    client = api(student)
    with django_assert_max_num_queries(6):
        response = client.get(f"{BASE}/instructor/{instructor.id}")
    assert len(response.json()["slots"]) == 7


def test_schema_documents_the_routes(api, admin_user):
    schema = api(admin_user).get("/api/schema", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in (
        "/api/office-hours/queue/{instructor_id}/join",
        "/api/office-hours/queue/entries/{entry_id}/requeue",
        "/api/office-hours/instructor/{instructor_id}",
        "/api/office-hours/queue/{instructor_id}/announcements",
        "/api/office-hours/queue/announcements/{announcement_id}",
        "/api/office-hours/queue/{instructor_id}/stats",
    ):
        assert path in text
    assert "dailyQuestionCap" in text and "admittedBy" in text and "p90WaitMinutes" in text
    assert "mean service time" in text
