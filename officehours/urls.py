"""Included at "api/office-hours" (no trailing slash)."""

from django.urls import path

from officehours import views

urlpatterns = [
    path("", views.OfficeHoursCreateView.as_view()),
    path("/instructor/<uuid:instructor_id>", views.InstructorScheduleView.as_view()),
    path("/<uuid:office_hours_id>", views.OfficeHoursDetailView.as_view()),
    path("/queue/entries/<uuid:entry_id>/complete", views.EntryCompleteView.as_view()),
    path("/queue/entries/<uuid:entry_id>/remove", views.EntryRemoveView.as_view()),
    path("/queue/entries/<uuid:entry_id>/requeue", views.EntryRequeueView.as_view()),
    path("/queue/announcements/<uuid:announcement_id>", views.AnnouncementDetailView.as_view()),
    path("/queue/<uuid:instructor_id>", views.QueueView.as_view()),
    path("/queue/<uuid:instructor_id>/announcements", views.AnnouncementsView.as_view()),
    path("/queue/<uuid:instructor_id>/stats", views.QueueStatsView.as_view()),
    path("/queue/<uuid:instructor_id>/join", views.QueueJoinView.as_view()),
    path("/queue/<uuid:instructor_id>/leave", views.QueueLeaveView.as_view()),
    path("/queue/<uuid:instructor_id>/admit", views.QueueAdmitView.as_view()),
    path("/queue/<uuid:instructor_id>/open", views.QueueOpenView.as_view()),
    path("/queue/<uuid:instructor_id>/close", views.QueueCloseView.as_view()),
]
