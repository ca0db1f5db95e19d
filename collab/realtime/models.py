"""The outbox: every history-worthy room frame, written in the transaction of its change.

`RoomSequence` holds the last seq handed out per room. A broadcast bumps it with one
`INSERT … ON CONFLICT DO UPDATE … RETURNING` inside the change's transaction: the row
lock it takes is held until commit, so a second writer of the same room waits, then
reads the committed value. Seqs of a room are therefore gapless (a rollback gives its
number back) and commit-ordered: when seq n is committed, every seq below it is too.

`RoomEvent` is the frame itself, encoded once (the exact text sockets receive), kept
for replay (`resume`) and for the relay that re-sends what was never sent.
"""

from __future__ import annotations

import uuid

from django.db import models


class RoomSequence(models.Model):
    room = models.CharField(max_length=120, primary_key=True)
    seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.room}@{self.seq}"


class RoomEvent(models.Model):
    # Global write order; per room it is also seq order (seqs are commit-ordered).
    pos = models.BigAutoField(primary_key=True)
    id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    room = models.CharField(max_length=120)
    # None for control-only messages (move sockets between rooms, close them): they are
    # relayed like frames but are not history and are never replayed.
    seq = models.BigIntegerField(null=True)
    event = models.CharField(max_length=80)
    # The channel-layer message (type room.frame / room.control, with the encoded text).
    message = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A relay that claimed the row owns it until then (another relay may retry after).
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "seq"], name="realtime_roomevent_room_seq")]
        indexes = [
            models.Index(fields=["created_at"], name="realtime_roomevent_created"),
            models.Index(fields=["pos"], condition=models.Q(sent_at__isnull=True), name="realtime_roomevent_unsent"),
        ]

    def __str__(self) -> str:
        return f"{self.room}#{self.seq} {self.event}"
