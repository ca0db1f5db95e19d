import pytest
from django.core.management import CommandError, call_command

from collab.accounts.models import Role, User
from collab.courses.models import Course, Enrollment


@pytest.mark.django_db
def test_seed_demo_refuses_outside_the_embedded_default(settings):
    settings.EMBEDDED_DEFAULT = False
    with pytest.raises(CommandError, match="embedded default"):
        call_command("seed_demo")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_logins_once(settings, capsys):
    settings.EMBEDDED_DEFAULT = True
    call_command("seed_demo")
    call_command("seed_demo")

    instructor = User.objects.get(email="instructor@example.com")
    assert instructor.role == Role.INSTRUCTOR
    assert instructor.check_password("collab-demo-pass")
    students = User.objects.filter(email__in=[f"student{n}@example.com" for n in range(1, 6)])
    assert students.count() == 5
    assert all(s.role == Role.STUDENT and s.check_password("collab-demo-pass") for s in students)

    course = Course.objects.get(title="JavaScript Fundamentals")
    assert course.instructor == instructor
    ta = User.objects.get(email="ta@example.com")
    assert set(Enrollment.objects.filter(course=course, role="student").values_list("user_id", flat=True)) == {
        s.id for s in students
    }
    assert Enrollment.objects.get(course=course, user=ta).role == "ta"
    assert User.objects.count() == 7 and Course.objects.count() == 1

    printed = capsys.readouterr().out
    assert "student5@example.com" in printed and "collab-demo-pass" in printed
