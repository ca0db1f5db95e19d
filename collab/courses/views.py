from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from collab.core.params import limit_param, limit_schema_parameter
from collab.courses import selectors, services
from collab.courses.permissions import CoursePermission
from collab.courses.serializers import (
    CourseCreateSerializer,
    CourseMemberSerializer,
    CourseSerializer,
    EnrollmentCreateSerializer,
    EnrollmentRoleSerializer,
    EnrollmentSerializer,
)

ERRORS = {
    400: OpenApiResponse(description="invalid: bad input"),
    401: OpenApiResponse(description="not_authenticated"),
    403: OpenApiResponse(description="not_course_instructor: only the course's instructor or an admin"),
    404: OpenApiResponse(description="course_not_found / user_not_found / enrollment_not_found"),
}

MEMBERS_DEFAULT_LIMIT = 1000
MEMBERS_MAX_LIMIT = 5000
MEMBERS_MAX_OFFSET = 10**6


class CourseViewSet(viewsets.ViewSet):
    permission_classes = [CoursePermission]
    lookup_url_kwarg = "course_id"

    @extend_schema(
        parameters=[limit_schema_parameter(default=500, maximum=500, what="At most this many courses")],
        responses={200: CourseSerializer(many=True)},
        summary="Courses I teach or am enrolled in",
    )
    def list(self, request):
        limit = limit_param(request, default=500, maximum=500)
        courses = selectors.course_list_for_user(user=request.user)[:limit]
        return Response(CourseSerializer(courses, many=True).data)

    @extend_schema(
        request=CourseCreateSerializer, responses={201: CourseSerializer}, summary="Create a course (instructors)"
    )
    def create(self, request):
        body = CourseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        course = services.course_create(actor=request.user, **body.validated_data)
        course.student_count = 0
        course.viewer_role = "instructor"
        return Response(CourseSerializer(course).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: CourseSerializer}, summary="One course (members and admins; 404 otherwise)")
    def retrieve(self, request, course_id=None):
        course = selectors.course_get_visible(user=request.user, course_id=course_id)
        return Response(CourseSerializer(course).data)

    @extend_schema(
        parameters=[
            limit_schema_parameter(default=MEMBERS_DEFAULT_LIMIT, maximum=MEMBERS_MAX_LIMIT),
            limit_schema_parameter(
                name="offset",
                default=0,
                minimum=0,
                maximum=MEMBERS_MAX_OFFSET,
                what="Members to skip (the instructor is member 0)",
            ),
        ],
        responses={200: CourseMemberSerializer(many=True)},
        summary="The course's instructor and students, by name (bounded by ?limit=, paged by ?offset=)",
    )
    @action(detail=True, methods=["get"])
    def members(self, request, course_id=None):
        course = selectors.course_get_visible(user=request.user, course_id=course_id)
        limit = limit_param(request, default=MEMBERS_DEFAULT_LIMIT, maximum=MEMBERS_MAX_LIMIT)
        offset = limit_param(request, name="offset", default=0, maximum=MEMBERS_MAX_OFFSET, minimum=0)
        members = selectors.course_members(course=course, limit=limit, offset=offset)
        return Response(CourseMemberSerializer(members, many=True).data)

    @extend_schema(
        request=EnrollmentCreateSerializer,
        responses={
            201: EnrollmentSerializer,
            **ERRORS,
            409: OpenApiResponse(description="already_enrolled / already_member"),
        },
        summary="Enroll a user by userId or email as student (default) or ta (the course's instructor or an admin)",
    )
    @action(detail=True, methods=["post"])
    def enrollments(self, request, course_id=None):
        course = selectors.course_get_visible(user=request.user, course_id=course_id)
        body = EnrollmentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        enrollment = services.enrollment_create(actor=request.user, course=course, **body.validated_data)
        return Response(EnrollmentSerializer(enrollment).data, status=status.HTTP_201_CREATED)


class EnrollmentDetailViewSet(viewsets.ViewSet):
    @extend_schema(
        request=EnrollmentRoleSerializer,
        responses={
            200: EnrollmentSerializer,
            **ERRORS,
            409: OpenApiResponse(description="in_office_hours_queue: the user waits in the instructor's queue"),
        },
        summary="Change an enrolled user's role: student or ta (the course's instructor or an admin)",
    )
    def partial_update(self, request, course_id=None, user_id=None):
        course = selectors.course_get_visible(user=request.user, course_id=course_id)
        body = EnrollmentRoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        enrollment = services.enrollment_role_update(
            actor=request.user, course=course, user_id=user_id, role=body.validated_data["role"]
        )
        return Response(EnrollmentSerializer(enrollment).data)

    @extend_schema(responses={204: OpenApiResponse(description="Unenrolled"), **ERRORS}, summary="Unenroll a user")
    def destroy(self, request, course_id=None, user_id=None):
        course = selectors.course_get_visible(user=request.user, course_id=course_id)
        services.enrollment_delete(actor=request.user, course=course, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
