"""Row locks Django's ORM cannot ask for.

`select_for_update` gives FOR UPDATE, FOR NO KEY UPDATE and FOR SHARE, not FOR KEY SHARE:
the weakest, the lock a foreign-key check takes on the row it points at. A write that
inserts a child row and must not wait for (or deadlock with) non-key changes of its
parent, yet must see the parent's newest version once a change that holds it commits,
takes that lock on the parent first (the session chat: liveSessions/services/chat.py,
collab/realtime/fused_write.py).
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet


def key_share_sql(rows: QuerySet) -> tuple[str, list[Any]]:
    """`rows`' SQL and parameters with `FOR KEY SHARE OF <its table>` added (PostgreSQL
    only): its rows stay key-share locked to the end of the transaction. The query must
    be a plain row query (no DISTINCT, GROUP BY or aggregate: PostgreSQL cannot lock
    those)."""
    sql, params = rows.query.sql_with_params()
    return f"{sql} FOR KEY SHARE OF {connection.ops.quote_name(rows.model._meta.db_table)}", list(params)
