from django.urls import path

from collab.courses.views import CourseViewSet, EnrollmentDetailViewSet

urlpatterns = [
    path("", CourseViewSet.as_view({"get": "list", "post": "create"})),
    path("/<uuid:course_id>", CourseViewSet.as_view({"get": "retrieve"})),
    path("/<uuid:course_id>/members", CourseViewSet.as_view({"get": "members"})),
    path("/<uuid:course_id>/enrollments", CourseViewSet.as_view({"post": "enrollments"})),
    path("/<uuid:course_id>/enrollments/<uuid:user_id>", EnrollmentDetailViewSet.as_view({"delete": "destroy"})),
]
