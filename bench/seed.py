"""Creates the bench's demo data in bulk with the ORM and mints access tokens for it.

Run by bench/run.py in a subprocess on the bench database (collab_bench), with the same
SECRET_KEY as the servers, so the tokens it prints are accepted by them:

    python -m bench.seed --course-students 500 --open-students 4000 --out seed.json

* one instructor who teaches course A;
* `--course-students` students enrolled in course A (fan-out, REST, presence storm);
* `--open-students` students in no course at all (throughput on open sessions and the
  sockets-held steps), so their presence changes reach only their own `user-` room and
  those workloads measure what they mean to measure.

Users are created with bulk_create and one password hash computed once (they can log
in with "bench-password"); the servers themselves run the normal settings.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from datetime import timedelta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--course-students", type=int, default=500)
    parser.add_argument("--open-students", type=int, default=4000)
    parser.add_argument("--token-hours", type=int, default=4)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from rest_framework_simplejwt.tokens import AccessToken

    from collab.accounts.models import Role, User
    from collab.accounts.revocation import generation_publish
    from collab.core.tokens import GENERATION_CLAIM, SESSION_CLAIM
    from collab.courses.models import Course, Enrollment

    started = time.monotonic()
    password = make_password("bench-password")  # one hash for every bench user
    lifetime = timedelta(hours=args.token_hours)

    def token(user: User) -> str:
        """An access token as a sign-in gives one (collab.accounts.services.token_pair_for:
        a signed-in session and the user's token generation, published to Redis), but
        living the bench's --token-hours. Without the claims and the published
        generation, every handshake and ticket took the paths a sign-in never takes."""
        access = AccessToken()
        access.set_exp(lifetime=lifetime)
        access["user_id"] = str(user.id)
        access[SESSION_CLAIM] = uuid.uuid4().hex
        access[GENERATION_CLAIM] = user.token_generation
        generation_publish(user_id=user.id, generation=user.token_generation)
        return str(access)

    def people(prefix: str, count: int, role: str) -> list[User]:
        return [
            User(
                id=uuid.uuid4(),
                email=f"{prefix}{i:05d}@bench.example",
                name=f"{prefix.title()} {i:05d}",
                role=role,
                password=password,
            )
            for i in range(count)
        ]

    with transaction.atomic():
        instructor = people("instructor", 1, Role.INSTRUCTOR)[0]
        course_students = people("student", args.course_students, Role.STUDENT)
        open_students = people("open", args.open_students, Role.STUDENT)
        User.objects.bulk_create([instructor, *course_students, *open_students], batch_size=1000)
        course = Course.objects.create(title="Bench course A", description="Benchmark course", instructor=instructor)
        Enrollment.objects.bulk_create(
            [Enrollment(course=course, user=student) for student in course_students], batch_size=1000
        )

    def entry(user: User) -> dict:
        return {"id": str(user.id), "token": token(user)}

    data = {
        "instructor": entry(instructor),
        "courseId": str(course.id),
        "courseStudents": [entry(u) for u in course_students],
        "openStudents": [entry(u) for u in open_students],
    }
    with open(args.out, "w") as handle:
        json.dump(data, handle)
    print(
        f"seeded 1 instructor, {len(course_students)} course students, {len(open_students)} open students "
        f"in {time.monotonic() - started:.1f}s"
    )


if __name__ == "__main__":
    main()
