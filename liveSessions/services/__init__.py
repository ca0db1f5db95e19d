"""Every write of the liveSessions app. Split by job; import from here."""

from liveSessions.services.attendance import (
    LeaveOutcome,
    attendance_end_for_unenrolled,
    attendance_leave,
    attendance_release_lapsed,
    attendance_socket_exit,
)
from liveSessions.services.chat import session_message_delete, session_message_send
from liveSessions.services.joins import JoinOutcome, JoinRequest, attendance_join, attendance_join_many
from liveSessions.services.lifecycle import (
    live_session_cancel,
    live_session_create,
    live_session_end,
    live_session_start,
)
from liveSessions.services.schedule import live_session_auto_end_overdue, live_session_send_reminders

__all__ = [
    "JoinOutcome",
    "JoinRequest",
    "LeaveOutcome",
    "attendance_end_for_unenrolled",
    "attendance_join",
    "attendance_join_many",
    "attendance_leave",
    "attendance_release_lapsed",
    "attendance_socket_exit",
    "live_session_auto_end_overdue",
    "live_session_cancel",
    "live_session_create",
    "live_session_end",
    "live_session_send_reminders",
    "live_session_start",
    "session_message_delete",
    "session_message_send",
]
