"""Staff moderation: slots, queue entries and per-instructor queue state. Clearing a
queue goes through the service, so students are told and positions stay consistent."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render

from collab.core.admin import TextRuleAdminMixin
from collab.core.errors import DomainError
from collab.core.text import TextFormField
from officehours import services
from officehours.models import OfficeHours, OfficeHoursQueue, OfficeHoursQueueState, QueueAnnouncement


@admin.register(OfficeHours)
class OfficeHoursAdmin(TextRuleAdminMixin, admin.ModelAdmin):
    list_display = [
        "instructor",
        "staff",
        "day_of_week",
        "start_time",
        "end_time",
        "timezone",
        "location",
        "is_active",
    ]
    list_filter = ["is_active", "day_of_week", "timezone"]
    search_fields = ["instructor__name", "instructor__email", "staff__name", "staff__email", "location"]
    autocomplete_fields = ["instructor", "staff"]
    list_select_related = ["instructor", "staff"]


class ClearQueueForm(forms.Form):
    reason = TextFormField(max_length=200, initial="Cleared by staff")


def _clear(modeladmin, request, instructor_ids) -> None:
    if "apply" in request.POST:
        form = ClearQueueForm(request.POST)
        if form.is_valid():
            removed = sum(
                services.queue_clear(actor=request.user, instructor_id=iid, reason=form.cleaned_data["reason"])
                for iid in sorted(set(instructor_ids))
            )
            modeladmin.message_user(
                request, f"Removed {removed} waiting entries; the students were told.", messages.SUCCESS
            )
            return None
    else:
        form = ClearQueueForm()
    return render(
        request,
        "admin/officehours/clear_queue.html",
        {
            "form": form,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "action": request.POST.get("action"),
            "opts": modeladmin.model._meta,
            "title": "Clear office-hours queues",
        },
    )


@admin.register(OfficeHoursQueue)
class OfficeHoursQueueAdmin(TextRuleAdminMixin, admin.ModelAdmin):
    list_display = [
        "student",
        "instructor",
        "status",
        "joined_queue_at",
        "admitted_at",
        "admitted_by",
        "completed_at",
        "completed_by",
        "removed_reason",
    ]
    list_filter = ["status", "joined_queue_at", ("instructor", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["student__name", "student__email", "instructor__name", "instructor__email", "question"]
    list_select_related = ["student", "instructor", "admitted_by", "completed_by"]
    date_hierarchy = "joined_queue_at"
    actions = ["clear_queues"]
    # Status changes go through the services (locks, broadcasts); staff use the action.
    readonly_fields = [
        "instructor",
        "student",
        "status",
        "question",
        "joined_queue_at",
        "admitted_at",
        "completed_at",
        "ended_at",
        "removed_reason",
        "admitted_by",
        "completed_by",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Clear the queues of the selected entries' instructors (remove waiting, tell students)")
    def clear_queues(self, request, queryset):
        return _clear(self, request, queryset.values_list("instructor_id", flat=True))


@admin.register(OfficeHoursQueueState)
class OfficeHoursQueueStateAdmin(admin.ModelAdmin):
    list_display = ["instructor", "is_open", "manually_opened", "manually_closed_at", "changed_at"]
    list_filter = ["is_open", "manually_opened"]
    search_fields = ["instructor__name", "instructor__email"]
    list_select_related = ["instructor"]
    readonly_fields = ["instructor", "is_open", "manually_opened", "manually_closed_at", "changed_at"]
    actions = ["clear_queues"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Clear the selected queues (remove waiting entries, tell students)")
    def clear_queues(self, request, queryset):
        return _clear(self, request, queryset.values_list("instructor_id", flat=True))


@admin.register(QueueAnnouncement)
class QueueAnnouncementAdmin(admin.ModelAdmin):
    """Staff moderation of queue announcements: deleting goes through the service, so the
    room is told."""

    list_display = ["instructor", "author", "message", "created_at"]
    search_fields = ["message", "instructor__name", "author__name"]
    list_select_related = ["instructor", "author"]
    readonly_fields = ["instructor", "author", "message", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def delete_model(self, request, obj):
        self._delete(request, obj)

    def delete_queryset(self, request, queryset):
        for announcement in queryset:
            self._delete(request, announcement)

    def _delete(self, request, announcement: QueueAnnouncement) -> None:
        try:
            services.announcement_delete(actor=request.user, announcement_id=announcement.id)
        except DomainError as exc:
            self.message_user(request, f"{announcement}: {exc.message}", messages.ERROR)
