"""Included at "api/live-sessions" (no trailing slash): paths start with "/"."""

from django.urls import path

from liveSessions import views

urlpatterns = [
    path("", views.SessionCreateView.as_view(), name="live-session-create"),
    path("/course/<uuid:course_id>", views.CourseSessionsView.as_view(), name="live-session-course"),
    path("/instructor/my-sessions", views.MySessionsView.as_view(), name="live-session-mine"),
    path("/<uuid:session_id>", views.SessionDetailView.as_view(), name="live-session-detail"),
    path("/<uuid:session_id>/start", views.SessionStartView.as_view(), name="live-session-start"),
    path("/<uuid:session_id>/end", views.SessionEndView.as_view(), name="live-session-end"),
    path("/<uuid:session_id>/cancel", views.SessionCancelView.as_view(), name="live-session-cancel"),
    path("/<uuid:session_id>/join", views.SessionJoinView.as_view(), name="live-session-join"),
    path("/<uuid:session_id>/leave", views.SessionLeaveView.as_view(), name="live-session-leave"),
    path("/<uuid:session_id>/attendees", views.SessionAttendeesView.as_view(), name="live-session-attendees"),
    path("/<uuid:session_id>/messages", views.SessionMessagesView.as_view(), name="live-session-messages"),
    path(
        "/<uuid:session_id>/messages/<uuid:message_id>",
        views.SessionMessageDetailView.as_view(),
        name="live-session-message",
    ),
    path("/<uuid:session_id>/attendance", views.SessionAttendanceView.as_view(), name="live-session-attendance"),
]
