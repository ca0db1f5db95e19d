from django.contrib import admin
from django.urls import include, path, re_path

from collab.core.views import DocsView, HealthView, SchemaView
from collab.realtime.views import upgrade_required

urlpatterns = [
    path("", include("console.urls")),
    path("health", HealthView.as_view()),
    # The socket's path asked over plain HTTP (no upgrade): 426 in JSON (docs/protocol.md).
    re_path(r"^ws/?$", upgrade_required),
    path("admin/", admin.site.urls),
    path("api/schema", SchemaView.as_view(), name="schema"),
    path("api/docs", DocsView.as_view(url_name="schema")),
    path("api/auth/", include("collab.accounts.urls")),
    path("api/courses", include("collab.courses.urls")),
    path("api/presence/", include("presence.urls")),
    path("api/live-sessions", include("liveSessions.urls")),
    path("api/office-hours", include("officehours.urls")),
    path("api/study-groups", include("studygroups.urls")),
]

handler400 = "collab.core.views.bad_request"
handler403 = "collab.core.views.permission_denied"
handler404 = "collab.core.views.not_found"
handler500 = "collab.core.views.server_error"
