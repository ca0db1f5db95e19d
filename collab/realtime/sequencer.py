"""Per socket: which seq of each room it has delivered, and what to send next.

A socket sees each seq of a room once, in order, whatever the channel layer does:
a frame re-sent by the relay is dropped (seq already delivered), a frame that overtook
an earlier one (relay and live send racing, a frame lost while Redis restarted) is held
and the gap reported so the consumer reads the missing frames from the outbox, and
while a room is being replayed (`resume`) its live frames are held and sent after.

Pure bookkeeping, no I/O: the consumer feeds it and sends what it returns
(tests/realtime/test_sequencer.py drives it with Hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    """Texts to send now, in order (None: a frame that counts as delivered but is not
    sent, e.g. to the socket a change came from); `gap` = (after, before) when seqs
    after < s < before are missing and should be read from the outbox (`fill`), else None."""

    send: list[str | None] = field(default_factory=list)
    gap: tuple[int, int] | None = None


class RoomSequencer:
    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self._held: dict[str, dict[int, str | None]] = {}
        self._replaying: set[str] = set()

    def tracks(self, room: str) -> bool:
        return room in self.last

    def track(self, room: str, seq: int) -> None:
        """Starts following `room` with everything up to `seq` counted as delivered
        (the room's current seq on join). Already followed: the later of the two wins."""
        self.last[room] = max(seq, self.last.get(room, seq))

    def forget(self, room: str) -> None:
        self.last.pop(room, None)
        self._held.pop(room, None)
        self._replaying.discard(room)

    def next_in_line(self, room: str, seq: int) -> bool:
        """`live`'s common case without building an Outcome (it runs per recipient of
        every broadcast): True, and `seq` counts as delivered, when it is the next seq of
        a followed room with nothing held back and no replay; the caller sends the frame.
        False: nothing changed, call `live`."""
        last = self.last.get(room)
        if last is None or seq != last + 1 or self._held.get(room) or room in self._replaying:
            return False
        self.last[room] = seq
        return True

    def live(self, room: str, seq: int, text: str | None) -> Outcome:
        """A frame from the channel layer."""
        if room not in self.last:
            # Not followed (e.g. a control frame to a room being joined): nothing to order.
            return Outcome([text])
        last = self.last[room]
        if seq <= last:
            return Outcome()
        if seq == last + 1 and not self._held.get(room) and room not in self._replaying:
            self.last[room] = seq  # the common case: next in line, nothing waiting
            return Outcome([text])
        self._held.setdefault(room, {})[seq] = text
        if room in self._replaying:
            return Outcome()
        return self._drain(room)

    def begin_replay(self, room: str, after: int) -> None:
        """Resume: the client has everything up to `after`; live frames wait until `end_replay`."""
        self.last[room] = after
        held = self._held.get(room)
        if held:
            for seq in [seq for seq in held if seq <= after]:
                del held[seq]
        self._replaying.add(room)

    def fill(self, room: str, frames: list[tuple[int, str | None]]) -> Outcome:
        """Frames read from the outbox (a replay or a gap fill), in seq order; a text None
        counts as delivered and is not sent (a frame the socket was excluded from)."""
        out = Outcome()
        if room not in self.last:
            return out
        for seq, text in frames:
            if seq == self.last[room] + 1:
                out.send.append(text)
                self.last[room] = seq
                held = self._held.get(room)
                if held:
                    held.pop(seq, None)
        if room not in self._replaying:
            drained = self._drain(room)
            out.send.extend(drained.send)
            out.gap = drained.gap
        return out

    def end_replay(self, room: str, current: int | None = None) -> Outcome:
        """The replay is done. `current`: a resync moves the room on to this seq without
        sending what lies between (the client reloads over REST)."""
        self._replaying.discard(room)
        if room not in self.last:
            return Outcome()
        if current is not None:
            self.last[room] = current
            held = self._held.get(room)
            if held:
                for seq in [seq for seq in held if seq <= current]:
                    del held[seq]
        return self._drain(room)

    def skip_gap(self, room: str) -> Outcome:
        """The outbox no longer has the missing frames (pruned): deliver what is held."""
        held = self._held.get(room)
        if not held or room in self._replaying:
            return Outcome()
        self.last[room] = min(held) - 1
        return self._drain(room)

    def _drain(self, room: str) -> Outcome:
        out = Outcome()
        held = self._held.get(room)
        if not held:
            return out
        last = self.last[room]
        while last + 1 in held:
            last += 1
            out.send.append(held.pop(last))
        self.last[room] = last
        if held:
            out.gap = (last, min(held))
        return out
