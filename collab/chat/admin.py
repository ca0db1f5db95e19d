"""Admin behaviour shared by the chat message admins: search and moderation delete."""

from collections.abc import Callable

from django.contrib import admin, messages

from collab.core.admin import TextRuleAdminMixin


class ChatMessageAdmin(TextRuleAdminMixin, admin.ModelAdmin):
    """Subclasses set `delete_message_service(message=..., actor=...)`: the app's service
    that soft-deletes and tells the room, so admin moderation is seen live."""

    delete_message_service: Callable | None = None
    list_display = ["sent_at", "author", "short_body", "is_deleted"]
    search_fields = ["body", "author__name", "author__email"]
    readonly_fields = ["id", "author", "sent_at", "deleted_at", "deleted_by"]
    list_select_related = ["author"]
    date_hierarchy = "sent_at"
    actions = ["moderate_delete"]

    @admin.display(description="message")
    def short_body(self, obj) -> str:
        return obj.body[:80]

    @admin.display(boolean=True, description="deleted")
    def is_deleted(self, obj) -> bool:
        return obj.deleted_at is not None

    @admin.action(description="Delete selected messages (members see them disappear)")
    def moderate_delete(self, request, queryset):
        deleted = 0
        for message in queryset.filter(deleted_at__isnull=True):
            type(self).delete_message_service(message=message, actor=request.user)
            deleted += 1
        self.message_user(request, f"Deleted {deleted} message(s).", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        # A message is written by a member through its app's service (stored, sequenced,
        # sent to the room); the admin's form has no group, session or author to give one.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Hard deletes would erase history staff need; moderation goes through the action.
        return False
