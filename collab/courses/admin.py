from django.contrib import admin

from collab.courses.models import Course, Enrollment


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["title", "instructor", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["title", "instructor__email", "instructor__name"]
    autocomplete_fields = ["instructor"]
    list_select_related = ["instructor"]
    inlines = [EnrollmentInline]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["user", "course", "enrolled_at"]
    list_filter = ["course"]
    search_fields = ["user__email", "user__name", "course__title"]
    autocomplete_fields = ["user", "course"]
    list_select_related = ["user", "course"]
