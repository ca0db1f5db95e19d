"""Signals of the real-time core.

`leases_swept(sender=None)` is sent after every sweep of the connection leases
(`presence.sweep.presence_sweep`, on beat's schedule), once the sweep's own work is
committed, outside any transaction. What an app holds for a user "while connected" (a
seat in a live session) must not outlive a server process killed with SIGKILL: no
disconnect handler runs then, and only the leases notice (they lapse by themselves).

No user list is passed on purpose: a user whose socket died with its process may have
gone offline since by a clean release of their last lease elsewhere (then no sweep ever
reports them), so a receiver reads the leases itself for what it holds (one round trip
for any number of users). A receiver is idempotent and safe to run twice at once (two
sweeps may overlap), opens its own transactions and sends with `broadcast_on_commit`.
It is called with `send_robust`: if it raises, the error is logged, the other receivers
still run, the sweep does not fail, and the next sweep runs it again.
"""

from django.dispatch import Signal

leases_swept = Signal()
