"""Thin REST views: validate, call one service or selector, serialize."""

from __future__ import annotations

from djangorestframework_camel_case.render import CamelCaseJSONRenderer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from collab.chat.serializers import history_response
from collab.chat.services import HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT
from collab.core.params import (
    choice_param,
    cursor_param,
    cursor_schema_parameters,
    datetime_param,
    limit_param,
    limit_schema_parameter,
)
from collab.core.renderers import JsonForMetadataAndErrorsMixin, csv_download
from liveSessions import events, selectors, services
from liveSessions.models import SessionStatus
from liveSessions.permissions import LiveSessionPermission
from liveSessions.renderers import AttendanceCsvRenderer
from liveSessions.serializers import (
    AttendanceReportSerializer,
    AttendanceStateSerializer,
    AttendeesSerializer,
    LiveSessionCreateSerializer,
    LiveSessionEndSerializer,
    LiveSessionSerializer,
    SessionChatHistorySerializer,
)

LIST_DEFAULT, LIST_MAX = 50, 200
ATTENDEES_DEFAULT, ATTENDEES_MAX = 500, 10000

ERRORS = {
    401: OpenApiResponse(description="No or bad access token"),
    404: OpenApiResponse(description="No such session, or you may not join it"),
}
LIMIT = limit_schema_parameter(default=LIST_DEFAULT, maximum=LIST_MAX)


class _SessionView(APIView):
    permission_classes = [LiveSessionPermission]


def _session_response(session, *, code=status.HTTP_200_OK) -> Response:
    if not hasattr(session, "active_attendees"):
        session = selectors.with_active_attendees(type(session).objects.filter(id=session.id)).get()
    return Response(LiveSessionSerializer(session).data, status=code)


class SessionCreateView(_SessionView):
    @extend_schema(
        request=LiveSessionCreateSerializer,
        responses={201: LiveSessionSerializer, 400: OpenApiResponse(description="Bad input"), 403: None},
        summary="Schedule a live session (instructors; the course's instructor for a course)",
    )
    def post(self, request):
        body = LiveSessionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session = services.live_session_create(actor=request.user, **body.validated_data)
        return _session_response(session, code=status.HTTP_201_CREATED)


class SessionDetailView(_SessionView):
    @extend_schema(responses={200: LiveSessionSerializer, **ERRORS}, summary="One session (those who may join)")
    def get(self, request, session_id):
        return _session_response(selectors.session_get_joinable(user=request.user, session_id=session_id))


class CourseSessionsView(_SessionView):
    @extend_schema(
        parameters=[LIMIT],
        responses={200: LiveSessionSerializer(many=True), **ERRORS},
        summary="A course's upcoming sessions (scheduled and live), soonest first (course members)",
    )
    def get(self, request, course_id):
        limit = limit_param(request, default=LIST_DEFAULT, maximum=LIST_MAX)
        sessions = selectors.session_list_upcoming_for_course(user=request.user, course_id=course_id, limit=limit)
        return Response(LiveSessionSerializer(sessions, many=True).data)


class MySessionsView(_SessionView):
    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=SessionStatus.values, description="Only this status"), LIMIT],
        responses={200: LiveSessionSerializer(many=True), 403: None},
        summary="The sessions I teach, latest first, optionally by status (instructors)",
    )
    def get(self, request):
        status_filter = choice_param(request, "status", SessionStatus.values)
        limit = limit_param(request, default=LIST_DEFAULT, maximum=LIST_MAX)
        sessions = selectors.session_list_for_instructor(user=request.user, status=status_filter, limit=limit)
        return Response(LiveSessionSerializer(sessions, many=True).data)


class SessionStartView(_SessionView):
    @extend_schema(
        request=None,
        responses={200: LiveSessionSerializer, 403: None, 409: OpenApiResponse(description="session_not_scheduled")},
        summary="Start a scheduled session (its instructor)",
    )
    def post(self, request, session_id):
        return _session_response(services.live_session_start(actor=request.user, session_id=session_id))


class SessionEndView(_SessionView):
    @extend_schema(
        request=LiveSessionEndSerializer,
        responses={200: LiveSessionSerializer, 403: None, 409: OpenApiResponse(description="session_not_live")},
        summary="End a live session, optionally with its recording URL (its instructor)",
    )
    def post(self, request, session_id):
        body = LiveSessionEndSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session = services.live_session_end(actor=request.user, session_id=session_id, **body.validated_data)
        return _session_response(session)


class SessionCancelView(_SessionView):
    @extend_schema(
        request=None,
        responses={200: LiveSessionSerializer, 403: None, 409: OpenApiResponse(description="session_not_scheduled")},
        summary="Cancel a scheduled session (its instructor)",
    )
    def post(self, request, session_id):
        return _session_response(services.live_session_cancel(actor=request.user, session_id=session_id))


def _attendance_state(outcome, *, present: bool, already_present: bool) -> dict:
    attendance = outcome.attendance
    return AttendanceStateSerializer(
        {
            "session_id": outcome.session.id,
            "user_id": attendance.user_id,
            "present": present,
            "joined_at": attendance.present_since,
            "already_present": already_present,
            "active_attendees": outcome.active_attendees,
            "capacity": outcome.session.capacity,
        }
    ).data


class SessionJoinView(_SessionView):
    @extend_schema(
        request=None,
        responses={
            200: AttendanceStateSerializer,
            **ERRORS,
            409: OpenApiResponse(description="session_full, session_ended, session_cancelled"),
        },
        summary="Join (attend) a scheduled or live session; joining again changes nothing",
    )
    def post(self, request, session_id):
        outcome = services.attendance_join(actor=request.user, session_id=session_id)
        return Response(_attendance_state(outcome, present=True, already_present=not outcome.newly_present))


class SessionLeaveView(_SessionView):
    @extend_schema(
        request=None,
        responses={200: AttendanceStateSerializer, **ERRORS, 409: OpenApiResponse(description="not_attending")},
        summary="Leave a session (frees the seat)",
    )
    def post(self, request, session_id):
        outcome = services.attendance_leave(actor=request.user, session_id=session_id)
        return Response(_attendance_state(outcome, present=False, already_present=False))


class SessionAttendeesView(_SessionView):
    @extend_schema(
        parameters=[limit_schema_parameter(default=ATTENDEES_DEFAULT, maximum=ATTENDEES_MAX)],
        responses={200: AttendeesSerializer, **ERRORS},
        summary="Who joined, with who is present now first (those who may join)",
    )
    def get(self, request, session_id):
        session = selectors.session_get_joinable(user=request.user, session_id=session_id)
        limit = limit_param(request, default=ATTENDEES_DEFAULT, maximum=ATTENDEES_MAX)
        attendances = selectors.session_attendees(session=session, limit=limit)
        rows = [events.attendee_row(session, a) for a in attendances]
        data = {"session_id": session.id, "active_attendees": session.active_attendees, "attendees": rows}
        return Response(AttendeesSerializer(data).data)


class SessionMessagesView(_SessionView):
    @extend_schema(
        parameters=[
            *cursor_schema_parameters(what="messages"),
            limit_schema_parameter(default=HISTORY_DEFAULT_LIMIT, maximum=HISTORY_MAX_LIMIT),
        ],
        responses={200: SessionChatHistorySerializer, **ERRORS},
        summary="Chat history, newest first (those who may join)",
    )
    def get(self, request, session_id):
        session = selectors.session_get_joinable(user=request.user, session_id=session_id)
        cursor, before = cursor_param(request), datetime_param(request, "before")
        limit = limit_param(request, default=HISTORY_DEFAULT_LIMIT, maximum=HISTORY_MAX_LIMIT)
        messages, next_cursor = selectors.session_messages(session=session, cursor=cursor, before=before, limit=limit)
        return Response(history_response(SessionChatHistorySerializer, messages, next_cursor=next_cursor))


class SessionMessageDetailView(_SessionView):
    @extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted; the room gets session-message-deleted"),
            403: OpenApiResponse(description="not_session_owner"),
            **ERRORS,
            404: OpenApiResponse(description="session_not_found, or message_not_found (not a message of this session)"),
            409: OpenApiResponse(description="message_already_deleted"),
        },
        summary="Delete a chat message (moderation: the session's instructor and admins)",
    )
    def delete(self, request, session_id, message_id):
        message = selectors.session_message_get_for_moderation(
            user=request.user, session_id=session_id, message_id=message_id
        )
        services.session_message_delete(message=message, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionAttendanceView(JsonForMetadataAndErrorsMixin, _SessionView):
    renderer_classes = [CamelCaseJSONRenderer, AttendanceCsvRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=["json", "csv"], description="csv: download as text/csv"),
        ],
        responses={
            (200, "application/json"): AttendanceReportSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
            403: None,
            **ERRORS,
        },
        summary=(
            "Attendance report per student (the session's instructor, the course's staff and admins); "
            "?format=csv downloads it"
        ),
    )
    def get(self, request, session_id):
        session, rows = selectors.attendance_report(user=request.user, session_id=session_id)
        report = {
            "session_id": session.id,
            "title": session.title,
            "status": session.status,
            "started_at": session.started_at,
            "ended_at": session.ended_at,
            "attendees": rows,
        }
        if request.accepted_renderer.format == "csv":
            return csv_download(report, name=f"attendance-{session.id}")
        return Response(AttendanceReportSerializer(report).data)
