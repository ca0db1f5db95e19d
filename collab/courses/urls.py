from django.urls import path

from collab.courses.views import CourseViewSet, EnrollmentDetailViewSet

ENROLLMENT_DETAIL = EnrollmentDetailViewSet.as_view({"patch": "partial_update", "delete": "destroy"})

urlpatterns = [
    path("", CourseViewSet.as_view({"get": "list", "post": "create"})),
    path("/<uuid:course_id>", CourseViewSet.as_view({"get": "retrieve"})),
    path("/<uuid:course_id>/members", CourseViewSet.as_view({"get": "members"})),
    path("/<uuid:course_id>/enrollments", CourseViewSet.as_view({"post": "enrollments"})),
    path(
        "/<uuid:course_id>/enrollments/<uuid:user_id>",
        ENROLLMENT_DETAIL,
    ),
]
