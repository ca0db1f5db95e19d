from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from collab.accounts.models import Role, User
from collab.courses.demo import COURSE_TITLE, DEMO_PASSWORD, INSTRUCTOR_EMAIL, STUDENT_EMAILS, TA_EMAIL
from collab.courses.models import Course, Enrollment, EnrollmentRole

__all__ = ["COURSE_TITLE", "DEMO_PASSWORD", "INSTRUCTOR_EMAIL", "STUDENT_EMAILS", "TA_EMAIL", "Command"]


class Command(BaseCommand):
    help = "Load the demo instructor, a TA, five students and a course (embedded default only; idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even outside the embedded default.")

    def handle(self, *args, force=False, **options):
        if not (settings.EMBEDDED_DEFAULT or force):
            raise CommandError(
                "seed_demo only runs on the embedded default (COLLAB_EMBEDDED=true), never in production."
            )
        with transaction.atomic():
            instructor = self._user(INSTRUCTOR_EMAIL, "Ada Instructor", Role.INSTRUCTOR)
            students = [self._user(email, f"Student {n}", Role.STUDENT) for n, email in enumerate(STUDENT_EMAILS, 1)]
            course, _ = Course.objects.get_or_create(
                title=COURSE_TITLE,
                instructor=instructor,
                defaults={"description": "Variables, functions, the event loop and the DOM."},
            )
            for student in students:
                Enrollment.objects.get_or_create(course=course, user=student)
            ta = self._user(TA_EMAIL, "Tom Assistant", Role.STUDENT)
            Enrollment.objects.get_or_create(course=course, user=ta, defaults={"role": EnrollmentRole.TA})

        self.stdout.write(self.style.SUCCESS(f"Demo data ready: course {course.title!r} ({course.id})"))
        self.stdout.write(f"  password for every demo account: {DEMO_PASSWORD}")
        self.stdout.write(f"  instructor: {INSTRUCTOR_EMAIL}")
        self.stdout.write(f"  TA:         {TA_EMAIL}")
        for email in STUDENT_EMAILS:
            self.stdout.write(f"  student:    {email}")

    def _user(self, email: str, name: str, role: str) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name, role=role)
        return user
