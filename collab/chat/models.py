"""The chat message shared by live-session chat and study-group chat.

A concrete model adds the foreign key to what it belongs to (`session`, `group`) and an
index on (that key, sent_at). Moderation deletes softly: staff need the history, readers
no longer see the message. A deleted author leaves the message, anonymised.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

MESSAGE_MAX_LENGTH = 2000


class ChatMessage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="%(app_label)s_%(class)s_authored",
    )
    body = models.TextField(max_length=MESSAGE_MAX_LENGTH)
    sent_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return self.body[:60]

    @property
    def author_name(self) -> str:
        return self.author.name if self.author_id and self.author else "Deleted user"
