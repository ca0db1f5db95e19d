"""Staff enrol and unenrol in the admin through the services: sockets follow, and every
app's unenrolment rules run."""

import pytest
from django.urls import reverse

from collab.courses.models import Enrollment
from collab.realtime.testing import capture_broadcasts
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_enrolment_goes_through_the_service(client, admin_user, course):
    newcomer = UserFactory()
    client.force_login(admin_user)
    with capture_broadcasts() as sent:
        response = client.post(
            reverse("admin:courses_enrollment_add"), {"user": str(newcomer.id), "course": str(course.id)}
        )
    assert response.status_code == 302
    assert Enrollment.objects.filter(course=course, user=newcomer).exists()
    assert sent.named("course-enrolled")[0].room == f"user-{newcomer.id}"


def test_admin_delete_unenrols_through_the_service(client, admin_user, course, student):
    enrollment = Enrollment.objects.get(course=course, user=student)
    client.force_login(admin_user)
    with capture_broadcasts() as sent:
        response = client.post(reverse("admin:courses_enrollment_delete", args=[enrollment.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Enrollment.objects.filter(pk=enrollment.pk).exists()
    assert sent.named("course-unenrolled")[0].data == {"courseId": str(course.id)}


def test_admin_bulk_delete_unenrols_each_through_the_service(client, admin_user, course, student):
    other = UserFactory()
    Enrollment.objects.create(course=course, user=other)
    client.force_login(admin_user)
    ids = list(Enrollment.objects.filter(course=course).values_list("pk", flat=True))
    with capture_broadcasts() as sent:
        client.post(
            reverse("admin:courses_enrollment_changelist"),
            {"action": "delete_selected", "_selected_action": [str(pk) for pk in ids], "post": "yes"},
        )
    assert not Enrollment.objects.filter(course=course).exists()
    assert {b.room for b in sent.named("course-unenrolled")} == {f"user-{student.id}", f"user-{other.id}"}


def test_course_page_cannot_add_or_delete_enrolments_behind_the_services(client, admin_user, course):
    client.force_login(admin_user)
    page = client.get(reverse("admin:courses_course_change", args=[course.pk]))
    assert page.status_code == 200
    (enrolments,) = page.context["inline_admin_formsets"]
    assert enrolments.has_add_permission is False
    assert enrolments.has_delete_permission is False
    assert enrolments.has_change_permission is False


def test_admin_shows_and_edits_roles_through_the_service(client, admin_user, course, student):
    enrollment = Enrollment.objects.get(course=course, user=student)
    client.force_login(admin_user)
    listing = client.get(reverse("admin:courses_enrollment_changelist"), {"role__exact": "student"})
    assert listing.status_code == 200 and student.email in listing.content.decode()
    with capture_broadcasts() as sent:
        response = client.post(reverse("admin:courses_enrollment_change", args=[enrollment.pk]), {"role": "ta"})
    assert response.status_code == 302, response.content
    enrollment.refresh_from_db()
    assert enrollment.role == "ta"
    assert sent.named("course-role-changed")[0].data == {"courseId": str(course.id), "role": "ta"}
    course_page = client.get(reverse("admin:courses_course_change", args=[course.pk]))
    assert "Teaching assistant" in course_page.content.decode()
