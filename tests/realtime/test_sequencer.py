"""The per-socket sequencer (collab.realtime.sequencer): whatever order, repetition and
interleaving live and replayed frames arrive in, a socket sends each seq of a room
once, in order. Driven like the consumer drives it (gaps filled from an outbox)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collab.realtime.sequencer import Outcome, RoomSequencer

ROOM = "session-x"


class Driver:
    """What the consumer does with an Outcome: send, and fill gaps from the outbox
    (`committed`: every seq up to `top` is in it). `short_way`: live frames go as
    CollabConsumer.room_frame sends them, `next_in_line` first, `live` if not."""

    def __init__(self, top: int, short_way: bool = False):
        self.seq = RoomSequencer()
        self.top = top
        self.short_way = short_way
        self.sent: list[int] = []

    def live(self, seq: int) -> None:
        if self.short_way and self.seq.next_in_line(ROOM, seq):
            self.sent.append(seq)
            return
        self.deliver(self.seq.live(ROOM, seq, str(seq)))

    def outbox(self, after: int, upto: int) -> list[tuple[int, str]]:
        return [(seq, str(seq)) for seq in range(after + 1, min(upto, self.top) + 1)]

    def deliver(self, outcome: Outcome) -> None:
        self.sent.extend(int(text) for text in outcome.send)
        while outcome.gap is not None:
            after, before = outcome.gap
            outcome = self.seq.fill(ROOM, self.outbox(after, before - 1))
            self.sent.extend(int(text) for text in outcome.send)


def _assert_once_in_order(sent: list[int], start: int, end: int) -> None:
    assert sent == list(range(start + 1, end + 1))


@settings(max_examples=300, deadline=None)
@given(
    top=st.integers(min_value=1, max_value=40),
    joined_at=st.integers(min_value=0, max_value=10),
    data=st.data(),
)
def test_live_frames_in_any_order_and_repeated_come_out_once_in_order(top, joined_at, data):
    joined_at = min(joined_at, top)
    arrivals = data.draw(
        st.lists(st.integers(min_value=1, max_value=top), max_size=3 * top).map(
            lambda seqs: seqs + list(range(1, top + 1))
        )
    )
    arrivals = data.draw(st.permutations(arrivals))
    driver = Driver(top, short_way=data.draw(st.booleans(), label="short_way"))
    driver.seq.track(ROOM, joined_at)
    for seq in arrivals:
        driver.live(seq)
    _assert_once_in_order(driver.sent, joined_at, top)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_replay_interleaved_with_live_frames_sends_each_seq_once_in_order(data):
    """A resume from `last` while live frames (repeated, out of order, some from before
    `last`) keep arriving before, during and after the replay's reads."""
    top = data.draw(st.integers(min_value=1, max_value=40), label="top")
    last = data.draw(st.integers(min_value=0, max_value=top), label="last")
    # What the replay read saw committed (a live frame may be newer than the read).
    read_upto = data.draw(st.integers(min_value=last, max_value=top), label="read_upto")
    live = data.draw(st.lists(st.integers(min_value=1, max_value=top), max_size=3 * top), label="live")
    live = live + list(range(read_upto + 1, top + 1))  # the newer ones do arrive live
    live = data.draw(st.permutations(live), label="order")
    replay = [(seq, str(seq)) for seq in range(last + 1, read_upto + 1)]
    # Replay pages, and where the live frames fall between them.
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=len(replay)), max_size=4), label="pages"))
    pages = [replay[a:b] for a, b in zip([0, *cuts], [*cuts, len(replay)], strict=True)]
    slots = data.draw(
        st.lists(st.integers(min_value=0, max_value=len(pages) + 1), min_size=len(live), max_size=len(live)),
        label="slots",
    )
    # The replay's read happens as the resume begins: whatever arrived before it was
    # committed before it, so a frame newer than the read arrives after the resume began.
    slots = [max(slot, 1) if seq > read_upto else slot for seq, slot in zip(live, slots, strict=True)]

    driver = Driver(top, short_way=data.draw(st.booleans(), label="short_way"))
    driver.seq.track(ROOM, 0)
    # Slot 0: before the resume (the socket hears frames as a fresh joiner would).
    for seq, slot in zip(live, slots, strict=True):
        if slot == 0:
            driver.live(seq)
    driver.sent.clear()  # what the client saw before it asked to resume is not judged

    driver.seq.begin_replay(ROOM, last)
    for index, page in enumerate(pages, start=1):
        for seq, slot in zip(live, slots, strict=True):
            if slot == index:
                driver.live(seq)
        driver.deliver(driver.seq.fill(ROOM, page))
    driver.deliver(driver.seq.end_replay(ROOM))
    for seq, slot in zip(live, slots, strict=True):
        if slot == len(pages) + 1:
            driver.live(seq)
    _assert_once_in_order(driver.sent, last, top)


@given(top=st.integers(min_value=1, max_value=30), current=st.integers(min_value=0, max_value=30), data=st.data())
def test_resync_moves_on_to_current_and_sends_only_what_is_newer(top, current, data):
    current = min(current, top)
    live = data.draw(st.permutations(list(range(1, top + 1)) * 2))
    split = data.draw(st.integers(min_value=0, max_value=len(live)))
    driver = Driver(top, short_way=data.draw(st.booleans(), label="short_way"))
    driver.seq.begin_replay(ROOM, 0)
    for seq in live[:split]:
        driver.live(seq)
    assert driver.sent == []  # held while the room is being resumed
    driver.deliver(driver.seq.end_replay(ROOM, current))
    for seq in live[split:]:
        driver.live(seq)
    _assert_once_in_order(driver.sent, current, top)


def test_a_room_left_is_forgotten_and_frames_of_unfollowed_rooms_pass_through():
    sequencer = RoomSequencer()
    sequencer.track(ROOM, 3)
    assert sequencer.live(ROOM, 4, "4").send == ["4"]
    assert sequencer.live(ROOM, 4, "4").send == []
    sequencer.forget(ROOM)
    assert not sequencer.tracks(ROOM)
    assert sequencer.live(ROOM, 9, "9").send == ["9"]


def test_a_gap_the_outbox_cannot_fill_is_skipped_after_being_reported():
    sequencer = RoomSequencer()
    sequencer.track(ROOM, 0)
    outcome = sequencer.live(ROOM, 5, "5")
    assert outcome.send == [] and outcome.gap == (0, 5)
    assert sequencer.fill(ROOM, []).gap == (0, 5)
    assert sequencer.skip_gap(ROOM).send == ["5"]
    assert sequencer.live(ROOM, 6, "6").send == ["6"]


def test_the_short_way_takes_only_the_next_seq_of_a_followed_room_with_nothing_waiting():
    sequencer = RoomSequencer()
    assert not sequencer.next_in_line(ROOM, 1)  # not followed: `live` passes it through
    sequencer.track(ROOM, 3)
    assert not sequencer.next_in_line(ROOM, 3) and not sequencer.next_in_line(ROOM, 5)
    assert sequencer.last[ROOM] == 3
    assert sequencer.next_in_line(ROOM, 4) and sequencer.last[ROOM] == 4
    assert sequencer.live(ROOM, 6, "6").gap == (4, 6)  # 6 held until 5 is filled
    assert not sequencer.next_in_line(ROOM, 5)
    assert sequencer.fill(ROOM, [(5, "5")]).send == ["5", "6"]
    sequencer.begin_replay(ROOM, 6)
    assert not sequencer.next_in_line(ROOM, 7)  # held behind the replay
