from django.contrib import admin, messages

from collab.core.admin import TextRuleAdminMixin
from collab.core.errors import DomainError
from collab.courses import services
from collab.courses.models import Course, Enrollment, EnrollmentRole


class EnrollmentInline(admin.TabularInline):
    """Read-only: enrolments change through the Enrollment admin, which goes through the
    services so sockets follow and every app's unenrolment rules run."""

    model = Enrollment
    extra = 0
    can_delete = False
    fields = ["user", "role", "enrolled_at"]
    readonly_fields = ["user", "role", "enrolled_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Course)
class CourseAdmin(TextRuleAdminMixin, admin.ModelAdmin):
    list_display = ["title", "instructor", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["title", "instructor__email", "instructor__name"]
    autocomplete_fields = ["instructor"]
    list_select_related = ["instructor"]
    inlines = [EnrollmentInline]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["user", "course", "role", "enrolled_at"]
    list_filter = ["role", "course"]
    search_fields = ["user__email", "user__name", "course__title"]
    autocomplete_fields = ["user", "course"]
    list_select_related = ["user", "course"]

    def get_readonly_fields(self, request, obj=None):
        # An enrolment is created or deleted, never moved to another user or course;
        # its role (student | ta) is what staff change.
        return ["user", "course", "enrolled_at"] if obj else ["enrolled_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "role" in form.base_fields:
            # Left out: the model's default (student).
            form.base_fields["role"].required = False
        return form

    def save_model(self, request, obj, form, change):
        # Both go through the services: sockets follow, the apps' rules run.
        try:
            if change:
                if "role" in form.changed_data:
                    services.enrollment_role_update(
                        actor=request.user, course=obj.course, user_id=obj.user_id, role=obj.role
                    )
                return
            enrollment = services.enrollment_create(
                actor=request.user, course=obj.course, user_id=obj.user_id, role=obj.role or EnrollmentRole.STUDENT
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = enrollment.pk

    def delete_model(self, request, obj):
        self._unenroll(request, obj)

    def delete_queryset(self, request, queryset):
        for enrollment in queryset.select_related("course"):
            self._unenroll(request, enrollment)

    def _unenroll(self, request, enrollment: Enrollment) -> None:
        try:
            services.enrollment_delete(actor=request.user, course=enrollment.course, user_id=enrollment.user_id)
        except DomainError as exc:
            self.message_user(request, f"{enrollment}: {exc.message}", messages.ERROR)
