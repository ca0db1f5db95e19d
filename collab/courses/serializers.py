from rest_framework import serializers

from collab.accounts.serializers import UserSummarySerializer
from collab.core.bodies import BodySerializer
from collab.core.fields import StrictCharField, StrictChoiceField, StrictIntegerField, StrictUUIDField
from collab.core.text import TextField
from collab.courses.models import Course, Enrollment, EnrollmentRole


class CourseSerializer(serializers.ModelSerializer):
    instructor = UserSummarySerializer(read_only=True)
    student_count = StrictIntegerField(read_only=True, help_text="Enrolled students (TAs not counted)")
    role = StrictCharField(
        source="viewer_role",
        read_only=True,
        allow_null=True,
        help_text="Your role in this course: instructor, ta or student (null: an admin who is not a member)",
    )

    class Meta:
        model = Course
        fields = ["id", "title", "description", "instructor", "student_count", "role", "created_at"]
        read_only_fields = fields  # an answer only: a course is created with CourseCreateSerializer


class CourseCreateSerializer(BodySerializer):
    title = TextField(max_length=200)
    description = TextField(max_length=5000, allow_blank=True, required=False, default="")


class EnrollmentCreateSerializer(BodySerializer):
    user_id = StrictUUIDField(required=False)
    email = serializers.EmailField(required=False)
    role = StrictChoiceField(
        choices=EnrollmentRole.choices, required=False, default=EnrollmentRole.STUDENT, help_text="student or ta"
    )

    def validate(self, attrs):
        if bool(attrs.get("user_id")) == bool(attrs.get("email")):
            raise serializers.ValidationError("Give exactly one of userId or email.")
        return attrs


class EnrollmentSerializer(serializers.ModelSerializer):
    course_id = StrictUUIDField(read_only=True)
    user = UserSummarySerializer(read_only=True)
    role = StrictChoiceField(choices=EnrollmentRole.choices)

    class Meta:
        model = Enrollment
        fields = ["id", "course_id", "user", "role", "enrolled_at"]


class EnrollmentRoleSerializer(BodySerializer):
    role = StrictChoiceField(choices=EnrollmentRole.choices, help_text="student or ta")


class CourseMemberSerializer(serializers.Serializer):
    id = StrictUUIDField(source="user.id")
    name = StrictCharField(source="user.name")
    role = StrictCharField(help_text="instructor, ta or student: the member's role in this course")
    enrolled_at = serializers.DateTimeField(allow_null=True)
