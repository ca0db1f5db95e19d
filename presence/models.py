"""Models of the presence app.

A `UserPresence` row holds what a user chose (`status`, `activity`) and what the rest of
the platform was last told about them (`announced_status`). Liveness is not stored here:
it lives in Redis leases (collab.realtime.leases) that lapse on their own, so a killed process
cannot leave anyone online. Reads combine the two (presence.selectors).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Status(models.TextChoices):
    ONLINE = "online", "Online"
    AWAY = "away", "Away"
    BUSY = "busy", "Busy"
    # Chosen by the user, `offline` means invisible: connected, yet shown as offline.
    OFFLINE = "offline", "Offline (invisible)"


ACTIVITY_MAX_LENGTH = 200


class UserPresence(models.Model):
    # The user is the key: one row per user, created lazily (presence_sync).
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="presence"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ONLINE)
    activity = models.CharField(max_length=ACTIVITY_MAX_LENGTH, blank=True, default="")
    # The last time any of the user's clients was seen (connect, heartbeat, disconnect).
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # What others see as lastSeenAt: it stops moving while the user is invisible, so
    # invisibility cannot be seen through a ticking timestamp.
    shown_last_seen_at = models.DateTimeField(null=True, blank=True)
    # The effective status the course rooms were last told (presence-changed). Compared
    # under the row lock so each visible change is announced once, whoever notices it.
    announced_status = models.CharField(
        "shown to others", max_length=16, choices=Status.choices, default=Status.OFFLINE
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "user presence"
        verbose_name_plural = "user presences"
        indexes = [
            models.Index(fields=["status", "updated_at"], name="presence_status_updated_idx"),
            # The sweep reconciles the few rows announced as online with the leases.
            models.Index(
                fields=["announced_status"],
                name="presence_announced_live_idx",
                condition=~Q(announced_status="offline"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.status}"
