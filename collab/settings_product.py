"""The product's own knobs: sockets, the outbox, presence, live sessions and office hours
(read from the environment like the rest; collab/settings.py imports them). The
framework's settings stay in collab/settings.py; the README's configuration table lists
both."""

import environ

env = environ.Env()

# The socket: frames larger than this are refused (by uvicorn itself: the Procfile passes
# it as --ws-max-size); each socket may send RATE frames a second with bursts up to BURST;
# a socket with at least ABUSE_LIMIT refused frames in the last ABUSE_WINDOW seconds, more
# than half of its frames in that window, is closed with 4429 (collab/realtime/flood.py).
SOCKET_MAX_FRAME_BYTES = env.int("SOCKET_MAX_FRAME_BYTES", default=64 * 1024)
SOCKET_RATE_PER_SECOND = env.float("SOCKET_RATE_PER_SECOND", default=20.0)
SOCKET_RATE_BURST = env.int("SOCKET_RATE_BURST", default=40)
SOCKET_ABUSE_LIMIT = env.int("SOCKET_ABUSE_LIMIT", default=50)
SOCKET_ABUSE_WINDOW = env.int("SOCKET_ABUSE_WINDOW", default=10)
# Open sockets per user across every process; one more is refused (4008).
SOCKET_MAX_PER_USER = env.int("SOCKET_MAX_PER_USER", default=20)
# Group messages that may wait for one socket in its process (the client reads slower than
# its rooms send: its write buffer full, the transport paused); one more drops the socket,
# whose client reconnects and resumes (collab/realtime/layer.py). Bounds a stalled
# client's share of the process's memory (most room frames are a few KiB). Only with
# the `group_delivery` piece (ASGI_FAST); without it the stock queue has no bound.
SOCKET_SEND_QUEUE_MAX = env.int("SOCKET_SEND_QUEUE_MAX", default=1000)
# Seconds before its credentials expire that a socket is sent `reauth-required`.
SOCKET_REAUTH_NOTICE = env.int("SOCKET_REAUTH_NOTICE", default=60)
WS_TICKET_TTL_SECONDS = 30

# The outbox of room frames (collab/realtime/outbox.py, docs/protocol.md "Sequence numbers
# and resume"): each room keeps at least its last OUTBOX_RETAIN_EVENTS frames and every frame
# younger than OUTBOX_RETAIN_SECONDS for `resume`; older gaps get `resync`.
OUTBOX_RETAIN_EVENTS = env.int("OUTBOX_RETAIN_EVENTS", default=1000)
OUTBOX_RETAIN_SECONDS = env.int("OUTBOX_RETAIN_SECONDS", default=600)
OUTBOX_PRUNE_INTERVAL = env.float("OUTBOX_PRUNE_INTERVAL", default=60.0)
# A frame whose send failed is never pruned before this age (seconds).
OUTBOX_UNSENT_MAX_AGE = env.int("OUTBOX_UNSENT_MAX_AGE", default=86400)
# Each web process's relay looks for unsent frames every RELAY_INTERVAL seconds and re-sends
# those older than RELAY_GRACE (their on-commit send failed or its process died); a claim
# lasts CLAIM_SECONDS, after which another process may retry.
OUTBOX_RELAY_INTERVAL = env.float("OUTBOX_RELAY_INTERVAL", default=1.0)
OUTBOX_RELAY_GRACE = env.float("OUTBOX_RELAY_GRACE", default=1.0)
OUTBOX_CLAIM_SECONDS = env.float("OUTBOX_CLAIM_SECONDS", default=10.0)

# Presence (presence/)
PRESENCE_OFFLINE_AFTER = env.int("PRESENCE_OFFLINE_AFTER", default=300)
PRESENCE_WRITE_MIN_INTERVAL = env.int("PRESENCE_WRITE_MIN_INTERVAL", default=30)
PRESENCE_SWEEP_INTERVAL = env.int("PRESENCE_SWEEP_INTERVAL", default=120)
# Each web process re-takes the leases of all its open sockets this often (seconds), and at
# once when it reaches Redis again after an outage: leases survive a Redis restart.
PRESENCE_REASSERT_INTERVAL = env.float(
    "PRESENCE_REASSERT_INTERVAL", default=max(1.0, env.int("PRESENCE_OFFLINE_AFTER", default=300) / 5)
)
# A course room gets at most one presence frame per window (changes inside it are batched).
PRESENCE_BROADCAST_WINDOW = env.float("PRESENCE_BROADCAST_WINDOW", default=0.6)
# How long a course presence snapshot may serve GET /api/presence/course/:id at most; it is
# dropped earlier by every change it shows (presence/snapshots.py). 0 turns snapshots off.
PRESENCE_SNAPSHOT_TTL = env.int("PRESENCE_SNAPSHOT_TTL", default=10)

# Live sessions (liveSessions/)
LIVE_SESSION_REMINDER_MINUTES = env.int("LIVE_SESSION_REMINDER_MINUTES", default=10)
LIVE_SESSION_AUTO_END_GRACE = env.int("LIVE_SESSION_AUTO_END_GRACE", default=30)
# Joins and leaves of a session with this many seats taken or more are coalesced: at most
# one session-participants-batch per window (liveSessions.announce). 0 turns it off.
LIVE_SESSION_BATCH_THRESHOLD = env.int("LIVE_SESSION_BATCH_THRESHOLD", default=50)
LIVE_SESSION_BATCH_WINDOW = env.float("LIVE_SESSION_BATCH_WINDOW", default=0.5)
# How often beat sends the reminders and the auto-end, in seconds.
LIVE_SESSION_TICK_SECONDS = env.int("LIVE_SESSION_TICK_SECONDS", default=30)
# Seconds a session-typing-start lasts without renewal before the others get
# session-user-stop-typing (liveSessions/typing_lifetime.py).
TYPING_TIMEOUT = env.float("TYPING_TIMEOUT", default=6.0)

# Office hours (officehours/): how often beat checks slot boundaries, in seconds.
OFFICE_HOURS_TICK_SECONDS = env.int("OFFICE_HOURS_TICK_SECONDS", default=30)
