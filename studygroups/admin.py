from django.contrib import admin, messages
from django.db.models import Count

from collab.chat.admin import ChatMessageAdmin
from collab.core.admin import TextRuleAdminMixin
from collab.core.errors import DomainError
from studygroups import services
from studygroups.models import StudyGroup, StudyGroupMember, StudyGroupMessage


class StudyGroupMemberInline(admin.TabularInline):
    """Read-only: membership changes go through the services (limit, hand-over)."""

    model = StudyGroupMember
    extra = 0
    fields = ["user", "role", "joined_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StudyGroup)
class StudyGroupAdmin(TextRuleAdminMixin, admin.ModelAdmin):
    list_display = ["name", "course", "created_by", "member_count", "max_members", "is_active", "created_at"]
    list_filter = ["is_active", "created_at", "course"]
    search_fields = ["name", "description", "course__title", "created_by__email", "created_by__name"]
    list_select_related = ["course", "created_by"]
    # Read-only: edits go through the services (limits, broadcasts); staff deactivate.
    fields = ["id", "course", "name", "description", "max_members", "is_active", "created_by", "created_at"]
    readonly_fields = fields
    date_hierarchy = "created_at"
    inlines = [StudyGroupMemberInline]
    actions = ["deactivate_groups"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_member_count=Count("memberships"))

    @admin.display(description="members", ordering="_member_count")
    def member_count(self, obj) -> int:
        return obj._member_count

    def has_add_permission(self, request) -> bool:
        # Groups belong to course members (the creator becomes admin); staff moderate.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Hard deletes would erase members and chat; deactivate instead.
        return False

    @admin.action(description="Deactivate selected groups (members are told and leave the room)")
    def deactivate_groups(self, request, queryset):
        done = 0
        for group_id in queryset.values_list("id", flat=True):
            done += services.study_group_moderate_deactivate(actor=request.user, group_id=group_id)
        self.message_user(request, f"Deactivated {done} group(s).", messages.SUCCESS)


@admin.register(StudyGroupMember)
class StudyGroupMemberAdmin(admin.ModelAdmin):
    """View-only rows: adding or deleting here would bypass the limit and the hand-over.
    Staff remove members with the action, which goes through the removal service (the
    member's sockets leave the room, the group hears member-left with reason "removed")."""

    list_display = ["user", "group", "role", "joined_at"]
    list_filter = ["role", "group__is_active", "group__course", "joined_at"]
    search_fields = ["user__email", "user__name", "group__name", "group__course__title"]
    list_select_related = ["user", "group", "group__course"]
    actions = ["remove_members"]

    @admin.action(description="Remove selected members from their groups (their sockets leave the room)")
    def remove_members(self, request, queryset):
        removed, refused = 0, []
        for membership in queryset.select_related("user", "group"):
            try:
                services.study_group_member_remove(
                    actor=request.user, group_id=membership.group_id, user_id=membership.user_id
                )
            except DomainError as error:
                refused.append(f"{membership.user} in {membership.group.name}: {error.message}")
            else:
                removed += 1
        if removed:
            self.message_user(request, f"Removed {removed} member(s).", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, f"Not removed: {reason}", messages.ERROR)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StudyGroupMessage)
class StudyGroupMessageAdmin(ChatMessageAdmin):
    delete_message_service = staticmethod(services.study_group_message_delete)
    list_display = ["sent_at", "group", "author", "short_body", "is_deleted"]
    list_filter = ["group__course", "group__is_active"]
    search_fields = [*ChatMessageAdmin.search_fields, "group__name"]
    list_select_related = ["author", "group"]
    readonly_fields = [*ChatMessageAdmin.readonly_fields, "group", "body"]
