"""Courses REST: the role x action matrix, enrolment rules and bounded list queries."""

from __future__ import annotations

import uuid

import pytest

from collab.courses.models import Course, Enrollment, EnrollmentRole
from collab.realtime.testing import capture_broadcasts
from tests.factories import AdminFactory, CourseFactory, EnrollmentFactory, InstructorFactory, UserFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


# -- the matrix -------------------------------------------------------------------------

ACTORS = [
    "anonymous",
    "student_enrolled",
    "student_not_enrolled",
    "course_instructor",
    "other_instructor",
    "admin",
    "ta",
]

# action -> expected status per actor, in ACTORS order. A TA is course staff but may not
# change the course's enrolments or roles.
EXPECTED = {
    "list": [401, 200, 200, 200, 200, 200, 200],
    "create": [401, 403, 403, 201, 201, 201, 403],
    "retrieve": [401, 200, 404, 200, 404, 200, 200],
    "members": [401, 200, 404, 200, 404, 200, 200],
    "enroll": [401, 403, 404, 201, 404, 201, 403],
    "enroll_ta": [401, 403, 404, 201, 404, 201, 403],
    "set_role": [401, 403, 404, 200, 404, 200, 403],
    "unenroll": [401, 403, 404, 204, 404, 204, 403],
}

MATRIX = [
    (action, actor, status) for action, row in EXPECTED.items() for actor, status in zip(ACTORS, row, strict=True)
]


@pytest.fixture
def world(db):
    instructor = InstructorFactory()
    course = CourseFactory(instructor=instructor)
    enrolled = UserFactory()
    classmate = UserFactory()  # enrolled too: the unenroll target
    EnrollmentFactory(course=course, user=enrolled)
    EnrollmentFactory(course=course, user=classmate)
    ta = UserFactory()
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    return {
        "course": course,
        "newcomer": UserFactory(),  # the enroll target
        "classmate": classmate,
        "actors": {
            "anonymous": None,
            "student_enrolled": enrolled,
            "student_not_enrolled": UserFactory(),
            "course_instructor": instructor,
            "other_instructor": InstructorFactory(),
            "admin": AdminFactory(),
            "ta": ta,
        },
    }


def perform(client, action: str, world: dict):
    base = f"/api/courses/{world['course'].id}"
    if action == "list":
        return client.get("/api/courses")
    if action == "create":
        return client.post("/api/courses", {"title": "Compilers", "description": "Parsing."}, format="json")
    if action == "retrieve":
        return client.get(base)
    if action == "members":
        return client.get(f"{base}/members")
    if action == "enroll":
        return client.post(f"{base}/enrollments", {"userId": str(world["newcomer"].id)}, format="json")
    if action == "enroll_ta":
        return client.post(f"{base}/enrollments", {"email": world["newcomer"].email, "role": "ta"}, format="json")
    if action == "set_role":
        return client.patch(f"{base}/enrollments/{world['classmate'].id}", {"role": "ta"}, format="json")
    if action == "unenroll":
        return client.delete(f"{base}/enrollments/{world['classmate'].id}")
    raise AssertionError(action)


@pytest.mark.parametrize("action, actor, expected", MATRIX)
def test_role_action_matrix(api, world, action, actor, expected):
    response = perform(api(world["actors"][actor]), action, world)
    assert response.status_code == expected, (action, actor, response.content)
    if expected >= 400:
        assert_error(response, expected)

    # A refusal changes nothing; a success changes exactly what it says.
    course = world["course"]
    newcomer = Enrollment.objects.filter(course=course, user=world["newcomer"]).first()
    classmate_enrolled = Enrollment.objects.filter(course=course, user=world["classmate"]).exists()
    assert (newcomer is not None) == (action in ("enroll", "enroll_ta") and expected == 201)
    if newcomer is not None:
        assert newcomer.role == ("ta" if action == "enroll_ta" else "student")
    classmate_role = Enrollment.objects.filter(course=course, user=world["classmate"]).values_list("role", flat=True)
    assert list(classmate_role)[:1] in ([], ["ta" if action == "set_role" and expected == 200 else "student"])
    assert classmate_enrolled == (not (action == "unenroll" and expected == 204))
    assert Course.objects.filter(title="Compilers").exists() == (action == "create" and expected == 201)


# -- what each route returns ------------------------------------------------------------


def test_list_shows_only_courses_i_teach_or_am_enrolled_in(api, course, student, instructor, other_instructor):
    elsewhere = CourseFactory(instructor=other_instructor)
    mine_to_teach = CourseFactory(instructor=instructor, title="Zeta")

    student_ids = [c["id"] for c in api(student).get("/api/courses").json()]
    assert student_ids == [str(course.id)]

    teacher_ids = {c["id"] for c in api(instructor).get("/api/courses").json()}
    assert teacher_ids == {str(course.id), str(mine_to_teach.id)}

    assert [c["id"] for c in api(other_instructor).get("/api/courses").json()] == [str(elsewhere.id)]


def test_list_lists_a_course_once_and_counts_all_its_students(api, course, student, instructor):
    for _ in range(3):
        EnrollmentFactory(course=course)
    # The student sees the whole class size, not just their own enrolment.
    for viewer in (student, instructor):
        body = api(viewer).get("/api/courses").json()
        assert len(body) == 1
        assert body[0]["studentCount"] == 4, (viewer, body)


def test_list_is_bounded_by_limit(api, instructor):
    for n in range(5):
        CourseFactory(instructor=instructor, title=f"C{n}")
    body = api(instructor).get("/api/courses?limit=3").json()
    assert [c["title"] for c in body] == ["C0", "C1", "C2"]
    # "" (issue 15, negative_data_rejection): an empty value was read as absent.
    for bad in ("0", "501", "-1", "abc", "", "%2B3", "3.0"):
        error = assert_error(api(instructor).get(f"/api/courses?limit={bad}"), 400, "invalid")
        assert list(error["fields"]) == ["limit"]


def test_course_shape(api, course, student, instructor):
    body = api(student).get(f"/api/courses/{course.id}").json()
    assert body == {
        "id": str(course.id),
        "title": course.title,
        "description": course.description,
        "instructor": {"id": str(instructor.id), "name": instructor.name, "role": "instructor"},
        "studentCount": 1,
        "role": "student",
        "createdAt": body["createdAt"],
    }
    assert "email" not in body["instructor"]


def test_create_makes_me_the_instructor(api, instructor):
    response = api(instructor).post("/api/courses", {"title": "Algorithms"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["instructor"]["id"] == str(instructor.id)
    assert body["studentCount"] == 0
    assert body["description"] == ""
    assert Course.objects.get(id=body["id"]).instructor == instructor


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "T", "description": 5 * "x" * 1001}, "description"),
        ({"title": 5}, "title"),
    ],
)
def test_create_refuses_bad_input(api, instructor, body, field):
    error = assert_error(api(instructor).post("/api/courses", body, format="json"), 400, "invalid")
    assert field in error["fields"]


def test_members_lists_the_instructor_then_students_by_name(api, course, student, instructor):
    zed = UserFactory(name="Zed")
    amy = UserFactory(name="Amy")
    EnrollmentFactory(course=course, user=zed)
    EnrollmentFactory(course=course, user=amy)
    body = api(student).get(f"/api/courses/{course.id}/members").json()
    # "Amy" < "User n" (the student fixture) < "Zed"
    assert [m["id"] for m in body] == [str(instructor.id), str(amy.id), str(student.id), str(zed.id)]
    assert body[0]["role"] == "instructor" and body[0]["enrolledAt"] is None
    assert all(m["role"] == "student" and m["enrolledAt"] for m in body[1:])
    assert all("email" not in m for m in body)


# -- enrolment rules --------------------------------------------------------------------


def test_enroll_by_email_any_case(api, course, instructor):
    newcomer = UserFactory(email="newcomer@example.com")
    response = api(instructor).post(
        f"/api/courses/{course.id}/enrollments", {"email": "NewComer@Example.com"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["id"] == str(newcomer.id)
    assert body["courseId"] == str(course.id)
    assert body["enrolledAt"]
    assert Enrollment.objects.filter(course=course, user=newcomer).exists()


def test_enroll_twice_is_409(api, course, instructor, student):
    response = api(instructor).post(f"/api/courses/{course.id}/enrollments", {"userId": str(student.id)}, format="json")
    assert_error(response, 409, "already_enrolled")
    assert Enrollment.objects.filter(course=course, user=student).count() == 1


def test_enroll_the_instructor_is_409(api, course, instructor):
    response = api(instructor).post(
        f"/api/courses/{course.id}/enrollments", {"userId": str(instructor.id)}, format="json"
    )
    assert_error(response, 409, "already_member")


@pytest.mark.parametrize("body", [{"userId": str(uuid.uuid4())}, {"email": "ghost@example.com"}])
def test_enroll_an_unknown_user_is_404(api, course, instructor, body):
    error = assert_error(
        api(instructor).post(f"/api/courses/{course.id}/enrollments", body, format="json"), 404, "user_not_found"
    )
    # The field that named nobody is the one blamed.
    assert error["fields"] == {next(iter(body)): ["No active user with that id or email."]}


def test_enroll_an_inactive_user_is_404(api, course, instructor):
    gone = UserFactory(is_active=False)
    response = api(instructor).post(f"/api/courses/{course.id}/enrollments", {"userId": str(gone.id)}, format="json")
    assert_error(response, 404, "user_not_found")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"userId": None, "email": None},
        {"userId": "", "email": ""},
        "both",
        {"userId": "not-a-uuid"},
        {"email": "not-an-email"},
        # issue 15 (negative_data_rejection): DRF's UUIDField read `false` as UUID 0.
        {"userId": False},
        {"userId": 0},
        {"userId": 7},
        "bare-hex",
        {"email": 5},
        {"userId": "USER", "role": 1},
    ],
)
def test_enroll_with_a_bad_body_is_400(api, course, instructor, other_student, body):
    if body == "both":
        body = {"userId": str(other_student.id), "email": other_student.email}
    elif body == "bare-hex":
        body = {"userId": other_student.id.hex}
    elif body.get("userId") == "USER":
        body = {**body, "userId": str(other_student.id)}
    response = api(instructor).post(f"/api/courses/{course.id}/enrollments", body, format="json")
    assert_error(response, 400, "invalid")
    assert not Enrollment.objects.filter(course=course, user=other_student).exists()


def test_enroll_into_a_missing_course_is_404_even_for_admins(api, admin_user, student):
    response = api(admin_user).post(
        f"/api/courses/{uuid.uuid4()}/enrollments", {"userId": str(student.id)}, format="json"
    )
    assert_error(response, 404, "course_not_found")


def test_unenroll_a_user_who_is_not_enrolled_is_404(api, course, instructor, other_student):
    response = api(instructor).delete(f"/api/courses/{course.id}/enrollments/{other_student.id}")
    assert_error(response, 404, "enrollment_not_found")


def test_unenroll_then_the_student_loses_access(api, course, instructor, student):
    assert api(instructor).delete(f"/api/courses/{course.id}/enrollments/{student.id}").status_code == 204
    assert not Enrollment.objects.filter(course=course, user=student).exists()
    assert_error(api(student).get(f"/api/courses/{course.id}"), 404, "course_not_found")
    assert api(student).get("/api/courses").json() == []


def test_invalid_course_id_in_the_path_is_a_json_404(api, student):
    response = api(student).get("/api/courses/not-a-uuid")
    assert_error(response, 404)


# -- no N+1 -----------------------------------------------------------------------------


def test_course_list_query_count_does_not_grow_with_courses(api, django_assert_max_num_queries):
    student = UserFactory()
    for _ in range(25):
        course = CourseFactory()
        EnrollmentFactory(course=course, user=student)
        for _ in range(3):
            EnrollmentFactory(course=course)
    client = api(student)
    with django_assert_max_num_queries(3):
        response = client.get("/api/courses")
    assert response.status_code == 200
    assert len(response.json()) == 25
    assert {c["studentCount"] for c in response.json()} == {4}


def test_members_query_count_does_not_grow_with_members(api, django_assert_max_num_queries):
    course = CourseFactory()
    for _ in range(40):
        EnrollmentFactory(course=course)
    client = api(course.instructor)
    with django_assert_max_num_queries(4):
        response = client.get(f"/api/courses/{course.id}/members")
    assert response.status_code == 200
    assert len(response.json()) == 41


@pytest.mark.django_db
def test_members_are_bounded_and_paged(api, course, instructor):
    from tests.factories import EnrollmentFactory, UserFactory

    for n in range(5):
        EnrollmentFactory(course=course, user=UserFactory(name=f"Zed {n}"))
    client = api(instructor)
    everyone = client.get(f"/api/courses/{course.id}/members").json()
    assert len(everyone) == 7 and everyone[0]["role"] == "instructor"

    first = client.get(f"/api/courses/{course.id}/members?limit=3").json()
    rest = client.get(f"/api/courses/{course.id}/members?limit=3&offset=3").json()
    last = client.get(f"/api/courses/{course.id}/members?limit=3&offset=6").json()
    assert [m["id"] for m in first + rest + last] == [m["id"] for m in everyone]

    for bad in ("limit=0", "limit=5001", "limit=x", "offset=-1", "offset=", "limit=", "offset=1000001"):
        response = client.get(f"/api/courses/{course.id}/members?{bad}")
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "invalid"


# -- roles ------------------------------------------------------------------------------


def test_roles_show_on_the_course_page_and_tas_are_not_counted_as_students(api, world):
    course, ta = world["course"], world["actors"]["ta"]
    instructor = api(world["actors"]["course_instructor"])
    members = {m["id"]: m["role"] for m in instructor.get(f"/api/courses/{course.id}/members").json()}
    assert members[str(ta.id)] == "ta" and members[str(course.instructor_id)] == "instructor"
    assert members[str(world["classmate"].id)] == "student"
    assert instructor.get(f"/api/courses/{course.id}").json()["studentCount"] == 2
    # The TA sees the course like any member.
    assert api(ta).get(f"/api/courses/{course.id}").json()["studentCount"] == 2


def test_the_course_says_the_viewers_own_role(api, world):
    course, actors = world["course"], world["actors"]
    expected = {"course_instructor": "instructor", "ta": "ta", "student_enrolled": "student", "admin": None}
    for actor, role in expected.items():
        assert api(actors[actor]).get(f"/api/courses/{course.id}").json()["role"] == role, actor
    for actor in ("course_instructor", "ta", "student_enrolled"):
        listed = {c["id"]: c["role"] for c in api(actors[actor]).get("/api/courses").json()}
        assert listed == {str(course.id): expected[actor]}, actor
    created = api(actors["other_instructor"]).post("/api/courses", {"title": "New"}, format="json").json()
    assert created["role"] == "instructor"
    assert api(actors["other_instructor"]).get(f"/api/courses/{created['id']}").json()["role"] == "instructor"
    # A role change shows on the next read.
    classmate = world["classmate"]
    url = f"/api/courses/{course.id}/enrollments/{classmate.id}"
    assert api(actors["course_instructor"]).patch(url, {"role": "ta"}, format="json").status_code == 200
    assert api(classmate).get(f"/api/courses/{course.id}").json()["role"] == "ta"


def test_role_changes_are_validated_and_told(api, world, django_capture_on_commit_callbacks):
    course, classmate = world["course"], world["classmate"]
    instructor = api(world["actors"]["course_instructor"])
    url = f"/api/courses/{course.id}/enrollments/{classmate.id}"
    assert_error(instructor.patch(url, {"role": "admin"}, format="json"), 400, "invalid")
    assert_error(instructor.patch(url, {}, format="json"), 400, "invalid")
    missing = f"/api/courses/{course.id}/enrollments/{world['newcomer'].id}"
    assert_error(instructor.patch(missing, {"role": "ta"}, format="json"), 404, "enrollment_not_found")
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = instructor.patch(url, {"role": "ta"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "ta"
    assert sent.named("course-role-changed")[0].data == {"courseId": str(course.id), "role": "ta"}
    assert sent.named("course-role-changed")[0].room == f"user-{classmate.id}"
    # Setting the same role again changes and sends nothing.
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        assert instructor.patch(url, {"role": "ta"}, format="json").status_code == 200
    assert not sent.named("course-role-changed")
    bad = instructor.post(
        f"/api/courses/{course.id}/enrollments", {"userId": str(world["newcomer"].id), "role": "x"}, format="json"
    )
    assert_error(bad, 400, "invalid")
