"""The demo data's names and password (loaded by `manage.py seed_demo` on the embedded
default only), importable without Django set up: `make run` prints them at start-up."""

DEMO_PASSWORD = "collab-demo-pass"
INSTRUCTOR_EMAIL = "instructor@example.com"
STUDENT_EMAILS = [f"student{n}@example.com" for n in range(1, 6)]
TA_EMAIL = "ta@example.com"  # a teaching assistant of the demo course
COURSE_TITLE = "JavaScript Fundamentals"
