"""Staff moderation of presence: who is shown how, and forcing users offline."""

from __future__ import annotations

from django.contrib import admin, messages

from collab.core.admin import TextRuleAdminMixin
from collab.realtime import leases
from presence import services
from presence.models import UserPresence


@admin.register(UserPresence)
class UserPresenceAdmin(TextRuleAdminMixin, admin.ModelAdmin):
    list_display = ["user", "status", "announced_status", "connected", "activity", "last_seen_at", "updated_at"]
    list_filter = ["status", "announced_status"]
    search_fields = ["user__email", "user__name", "activity"]
    list_select_related = ["user"]
    ordering = ["-updated_at"]
    readonly_fields = ["user", "announced_status", "last_seen_at", "shown_last_seen_at", "updated_at"]
    actions = ["force_offline"]

    @admin.display(description="Connected", boolean=True)
    def connected(self, obj: UserPresence) -> bool:
        # One Redis look-up per row of a page: cheap next to rendering the page.
        return leases.is_live(obj.user_id)

    @admin.action(description="Force selected users offline (drop their leases, set invisible)")
    def force_offline(self, request, queryset):
        user_ids = list(queryset.values_list("user_id", flat=True))
        announced = services.presence_force_offline(actor=request.user, user_ids=user_ids)
        self.message_user(
            request, f"{len(user_ids)} user(s) forced offline; {announced} were shown online.", messages.SUCCESS
        )

    def has_add_permission(self, request) -> bool:
        # Rows are created by presence itself; a hand-made row would bypass the announcements.
        return False
