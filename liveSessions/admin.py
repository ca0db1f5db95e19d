"""Staff moderation: sessions (filters, end and cancel through the services, so rooms
are told and attendance is closed) and chat messages (search, soft delete)."""

from django.contrib import admin, messages
from django.db import models

from collab.chat.admin import ChatMessageAdmin
from collab.core.admin import TextRuleAdminMixin
from collab.core.errors import DomainError
from liveSessions import services
from liveSessions.models import AttendanceInterval, LiveSession, SessionAttendance, SessionMessage


class SessionAttendanceInline(admin.TabularInline):
    model = SessionAttendance
    extra = 0
    can_delete = False
    fields = ["user", "first_joined_at", "last_left_at", "present_since", "attended"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LiveSession)
class LiveSessionAdmin(TextRuleAdminMixin, admin.ModelAdmin):
    list_display = ["title", "course", "instructor", "status", "scheduled_at", "started_at", "ended_at", "capacity"]
    list_filter = ["status", "course", "scheduled_at"]
    search_fields = ["title", "instructor__email", "instructor__name", "course__title"]
    list_select_related = ["course", "instructor"]
    autocomplete_fields = ["course", "instructor"]
    date_hierarchy = "scheduled_at"
    # The status moves only through the services (locks, broadcasts, attendance).
    readonly_fields = [
        "id",
        "status",
        "started_at",
        "ended_at",
        "cancelled_at",
        "planned_end_at",
        "created_at",
        "reminder_sent_at",
        "ending_soon_sent_at",
    ]
    inlines = [SessionAttendanceInline]
    actions = ["end_sessions", "cancel_sessions"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request) -> bool:
        # Creating goes through the API: it checks the instructor and announces the session.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Attendance and chat are history staff need; cancel instead.
        return False

    def _run(self, request, queryset, service, verb: str) -> None:
        done, refused = 0, []
        for session in queryset:
            try:
                service(actor=None, session_id=session.id)
                done += 1
            except DomainError as exc:
                refused.append(f"{session.title}: {exc.message}")
        if done:
            self.message_user(request, f"{verb} {done} session(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="End selected live sessions")
    def end_sessions(self, request, queryset):
        self._run(request, queryset, services.live_session_end, "Ended")

    @admin.action(description="Cancel selected scheduled sessions")
    def cancel_sessions(self, request, queryset):
        self._run(request, queryset, services.live_session_cancel, "Cancelled")


class AttendanceIntervalInline(admin.TabularInline):
    model = AttendanceInterval
    extra = 0
    can_delete = False
    readonly_fields = ["joined_at", "left_at", "left_reason"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SessionAttendance)
class SessionAttendanceAdmin(admin.ModelAdmin):
    list_display = ["session", "user", "first_joined_at", "last_left_at", "present_since", "attended"]
    list_filter = ["session__status"]
    search_fields = ["session__title", "user__email", "user__name"]
    list_select_related = ["session", "user"]
    readonly_fields = [
        "session",
        "user",
        "first_joined_at",
        "last_left_at",
        "present_since",
        "attended",
        "socket_channels",
    ]
    inlines = [AttendanceIntervalInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SessionMessage)
class SessionMessageAdmin(ChatMessageAdmin):
    delete_message_service = services.session_message_delete
    list_display = ["sent_at", "session", *ChatMessageAdmin.list_display[1:]]
    list_filter = ["session__status", "session__course"]
    search_fields = [*ChatMessageAdmin.search_fields, "session__title"]
    list_select_related = ["author", "session"]
    readonly_fields = [*ChatMessageAdmin.readonly_fields, "session"]
