"""django.contrib.admin, with collab's site (a rate-limited sign-in). Kept apart from
admin_site.py: INSTALLED_APPS imports this before any model may be imported."""

from django.contrib.admin.apps import AdminConfig


class CollabAdminConfig(AdminConfig):
    default_site = "collab.accounts.admin_site.CollabAdminSite"
