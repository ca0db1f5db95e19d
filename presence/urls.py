from django.urls import path

from presence import views

# Included at "api/presence/".
urlpatterns = [
    path("online", views.OnlineView.as_view()),
    path("course/<uuid:course_id>", views.CourseOnlineView.as_view()),
    path("user/<uuid:user_id>", views.UserPresenceView.as_view()),
    path("bulk", views.BulkView.as_view()),
    path("status", views.StatusView.as_view()),
    path("activity", views.ActivityView.as_view()),
    path("heartbeat", views.HeartbeatView.as_view()),
]
