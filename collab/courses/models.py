import uuid

from django.conf import settings
from django.db import models


class Course(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    # PROTECT: a course's history (sessions, queues) outlives no instructor silently;
    # staff reassign the course before deleting its instructor.
    instructor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="courses_taught")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["instructor", "title"])]

    def __str__(self) -> str:
        return self.title


class EnrollmentRole(models.TextChoices):
    """A member's role in one course. `ta` (teaching assistant) is course staff: see
    collab.courses.membership for what that allows."""

    STUDENT = "student", "Student"
    TA = "ta", "Teaching assistant"


class Enrollment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments")
    role = models.CharField(max_length=16, choices=EnrollmentRole.choices, default=EnrollmentRole.STUDENT)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    # The course room's seq when this enrolment committed (its sockets joined there): a
    # `resume` of the room never replays a frame at or below it (from before the user
    # was admitted). Null for enrolments made before it was recorded: no such bound.
    admitted_seq = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "user"], name="courses_enrollment_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=["student", "ta"]), name="courses_enrollment_role_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "course"]),
            # "Is staff of": the TAs of a course, the courses a user assists in.
            models.Index(fields=["user", "role", "course"], name="courses_enr_user_role"),
        ]
        ordering = ["enrolled_at"]

    def __str__(self) -> str:
        return f"{self.user} in {self.course}"
