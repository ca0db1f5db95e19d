"""A new password or a deactivation, however it was made (admin, shell, a service),
ends the user's sessions: User.save() moves the generation, this finishes the job."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from collab.accounts.models import User
from collab.accounts.revocation import revoked_everywhere


@receiver(post_save, sender=User, dispatch_uid="accounts.sessions_revoked_on_save")
def _sessions_revoked_on_save(sender, instance: User, created: bool, **kwargs) -> None:
    if not created and getattr(instance, "_sessions_revoked", False):
        instance._sessions_revoked = False
        revoked_everywhere(user=instance)
