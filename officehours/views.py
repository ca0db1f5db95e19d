"""Office-hours REST views: thin (validate, call one service or selector, serialize)."""

from __future__ import annotations

from djangorestframework_camel_case.render import CamelCaseJSONRenderer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from collab.core.params import EARLIEST, LATEST, date_param, limit_param, limit_schema_parameter, query_value
from collab.core.renderers import JsonForMetadataAndErrorsMixin, csv_download
from officehours import selectors, services
from officehours.permissions import OfficeHoursPermission
from officehours.renderers import StatsCsvRenderer
from officehours.serializers import (
    ESTIMATE_HELP,
    AdmitSerializer,
    AnnouncementSerializer,
    AnnouncementWriteSerializer,
    EntrySerializer,
    InstructorQueueSerializer,
    JoinSerializer,
    LeftEntrySerializer,
    OfficeHoursCreateSerializer,
    OfficeHoursSerializer,
    OfficeHoursWriteSerializer,
    QueueRulesSerializer,
    QueueStateSerializer,
    QueueStatsSerializer,
    RemoveSerializer,
    ScheduleSerializer,
    StudentQueueSerializer,
)

QUEUE_VIEW = PolymorphicProxySerializer(
    component_name="OfficeHoursQueueView",
    # Keyed by the `viewer` value: the discriminator's mapping is what the response says.
    serializers={"instructor": InstructorQueueSerializer, "student": StudentQueueSerializer},
    resource_type_field_name="viewer",
)


def _body(serializer_class, request, *, partial: bool = False) -> dict:
    body = serializer_class(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    return body.validated_data


def _state(state) -> dict:
    return QueueStateSerializer(
        {
            "instructor_id": state.instructor_id,
            "is_open": state.is_open,
            "manually_opened": state.manually_opened,
            "manually_closed_at": state.manually_closed_at,
        }
    ).data


class Base(APIView):
    permission_classes = [OfficeHoursPermission]


ERRORS = {
    400: OpenApiResponse(description="invalid: bad input (`fields` names them)"),
    401: OpenApiResponse(description="not_authenticated"),
    403: OpenApiResponse(description="not allowed (see the error codes in docs/protocol/officehours.md)"),
    404: OpenApiResponse(description="instructor_not_found / entry_not_found / office_hours_not_found"),
}
CONFLICT = {409: OpenApiResponse(description="the queue's or entry's state refuses it (code says why)")}


class OfficeHoursCreateView(Base):
    @extend_schema(
        request=OfficeHoursCreateSerializer,
        responses={201: OfficeHoursSerializer, **ERRORS},
        summary=(
            "Create a weekly office-hours slot: instructors in their schedule, TAs in their instructor's "
            "(instructorId) as the slot's staff. dayOfWeek: 0 = Sunday ... 6 = Saturday"
        ),
    )
    def post(self, request):
        body = _body(OfficeHoursCreateSerializer, request)
        slot = services.office_hours_create(actor=request.user, **body)
        return Response(OfficeHoursSerializer(slot).data, status=status.HTTP_201_CREATED)


class InstructorScheduleView(Base):
    @extend_schema(
        responses={200: ScheduleSerializer, **ERRORS},
        summary="An instructor's slots (with their staff), whether their queue is open, and its rules",
    )
    def get(self, request, instructor_id):
        return Response(
            ScheduleSerializer(selectors.schedule_get(viewer=request.user, instructor_id=instructor_id)).data
        )

    @extend_schema(
        request=QueueRulesSerializer,
        responses={200: ScheduleSerializer, **ERRORS},
        summary="Set the queue's fairness rules: rejoinCooldownMinutes, dailyQuestionCap (the instructor, admins)",
    )
    def patch(self, request, instructor_id):
        body = QueueRulesSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        rules = {key: value for key, value in body.validated_data.items() if key in _sent_keys(request)}
        services.queue_rules_update(actor=request.user, instructor_id=instructor_id, **rules)
        return Response(
            ScheduleSerializer(selectors.schedule_get(viewer=request.user, instructor_id=instructor_id)).data
        )


class OfficeHoursDetailView(Base):
    @extend_schema(
        request=OfficeHoursWriteSerializer, responses={200: OfficeHoursSerializer}, summary="Change a slot (owner)"
    )
    def patch(self, request, office_hours_id):
        body = OfficeHoursWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        # Only what the client sent: partial validation still fills declared defaults.
        changes = {key: value for key, value in body.validated_data.items() if key in _sent_keys(request)}
        slot = services.office_hours_update(actor=request.user, office_hours_id=office_hours_id, **changes)
        return Response(OfficeHoursSerializer(slot).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted")}, summary="Delete a slot (owner)")
    def delete(self, request, office_hours_id):
        services.office_hours_delete(actor=request.user, office_hours_id=office_hours_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _sent_keys(request) -> set[str]:
    return set(request.data.keys()) if hasattr(request.data, "keys") else set()


class QueueView(Base):
    @extend_schema(
        parameters=[
            limit_schema_parameter(default=200, maximum=500, what="Instructor view: at most this many entries")
        ],
        responses={200: QUEUE_VIEW},
        summary="The queue: the instructor's full view, or an eligible student's own view",
        description=(
            "Instructor (and admins): every waiting and admitted entry with names, questions and waiting times. "
            "Student: only their own entry, their position, the queue's length and the estimated wait. " + ESTIMATE_HELP
        ),
    )
    def get(self, request, instructor_id):
        limit = limit_param(request, default=200, maximum=500)
        return Response(_queue_data(selectors.queue_get(viewer=request.user, instructor_id=instructor_id, limit=limit)))


def _queue_data(view: dict) -> dict:
    if view["viewer"] == "instructor":
        return InstructorQueueSerializer(view).data
    return StudentQueueSerializer(view).data


class QueueJoinView(Base):
    @extend_schema(
        request=JoinSerializer,
        responses={201: StudentQueueSerializer},
        summary="Join the queue (eligible students, while open): your position and estimated wait",
        description=ESTIMATE_HELP,
    )
    def post(self, request, instructor_id):
        services.queue_join(actor=request.user, instructor_id=instructor_id, **_body(JoinSerializer, request))
        view = selectors.queue_view_student(student=request.user, instructor_id=instructor_id)
        return Response(StudentQueueSerializer(view).data, status=status.HTTP_201_CREATED)


class QueueLeaveView(Base):
    @extend_schema(request=None, responses={200: LeftEntrySerializer}, summary="Leave the queue (the waiting student)")
    def post(self, request, instructor_id):
        entry = services.queue_leave(actor=request.user, instructor_id=instructor_id)
        return Response(LeftEntrySerializer(entry).data)


class QueueAdmitView(Base):
    @extend_schema(
        request=AdmitSerializer,
        responses={200: EntrySerializer},
        summary="Admit that entry, or the next in line (instructor)",
    )
    def post(self, request, instructor_id):
        body = _body(AdmitSerializer, request)
        entry = services.queue_admit(actor=request.user, instructor_id=instructor_id, entry_id=body.get("entry_id"))
        return Response(EntrySerializer(entry).data)


class QueueOpenView(Base):
    @extend_schema(request=None, responses={200: QueueStateSerializer}, summary="Open the queue by hand (instructor)")
    def post(self, request, instructor_id):
        return Response(_state(services.queue_open(actor=request.user, instructor_id=instructor_id)))


class QueueCloseView(Base):
    @extend_schema(
        request=None,
        responses={200: QueueStateSerializer},
        summary="Close the queue by hand until the next slot (instructor)",
    )
    def post(self, request, instructor_id):
        return Response(_state(services.queue_close(actor=request.user, instructor_id=instructor_id)))


class EntryCompleteView(Base):
    @extend_schema(
        request=None, responses={200: EntrySerializer}, summary="Mark an admitted entry completed (instructor)"
    )
    def post(self, request, entry_id):
        return Response(EntrySerializer(services.queue_entry_complete(actor=request.user, entry_id=entry_id)).data)


class EntryRemoveView(Base):
    @extend_schema(
        request=RemoveSerializer,
        responses={200: EntrySerializer},
        summary="Remove a waiting or admitted entry (instructor)",
    )
    def post(self, request, entry_id):
        body = _body(RemoveSerializer, request)
        return Response(
            EntrySerializer(services.queue_entry_remove(actor=request.user, entry_id=entry_id, **body)).data
        )


class EntryRequeueView(Base):
    @extend_schema(
        request=None,
        responses={200: EntrySerializer},
        summary="Undo an admit: back to waiting in the original place (instructor)",
    )
    def post(self, request, entry_id):
        return Response(EntrySerializer(services.queue_entry_requeue(actor=request.user, entry_id=entry_id)).data)


class AnnouncementsView(Base):
    @extend_schema(
        responses={200: AnnouncementSerializer(many=True), **ERRORS},
        summary="The queue's latest announcements, newest first (staff and eligible students)",
    )
    def get(self, request, instructor_id):
        announcements = selectors.announcements_for(viewer=request.user, instructor_id=instructor_id)
        return Response(AnnouncementSerializer(announcements, many=True).data)

    @extend_schema(
        request=AnnouncementWriteSerializer,
        responses={201: AnnouncementSerializer, **ERRORS},
        summary="Announce to everyone following the queue (staff: instructor, TAs, admins)",
    )
    def post(self, request, instructor_id):
        announcement = services.announcement_create(
            actor=request.user, instructor_id=instructor_id, **_body(AnnouncementWriteSerializer, request)
        )
        return Response(AnnouncementSerializer(announcement).data, status=status.HTTP_201_CREATED)


class AnnouncementDetailView(Base):
    @extend_schema(responses={204: OpenApiResponse(description="Deleted"), **ERRORS}, summary="Delete (staff)")
    def delete(self, request, announcement_id):
        services.announcement_delete(actor=request.user, announcement_id=announcement_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


YEARS = f"YYYY-MM-DD, {EARLIEST.year}..{LATEST.year - 1}"


class QueueStatsView(JsonForMetadataAndErrorsMixin, Base):
    renderer_classes = [CamelCaseJSONRenderer, StatsCsvRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description=f"First day, {YEARS} (default: to - 27 days)"),
            OpenApiParameter("to", OpenApiTypes.DATE, description=f"Last day, inclusive, {YEARS} (default: today)"),
            OpenApiParameter(
                "tz",
                {"type": "string", "minLength": 1},
                description="IANA zone of days and hours (default: the queue's)",
            ),
            OpenApiParameter("format", str, enum=["json", "csv"], description="csv: download as text/csv"),
        ],
        responses={
            (200, "application/json"): QueueStatsSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
            **ERRORS,
        },
        summary="Office-hours insight: waits and service per day and hour of the week, per staff (staff)",
        description=(
            "Computed in the database. The instructor and admins see the whole queue, a TA the entries of "
            "their courses' students. At most 366 days."
        ),
    )
    def get(self, request, instructor_id):
        stats = selectors.queue_stats_get(
            viewer=request.user,
            instructor_id=instructor_id,
            start=date_param(request, "from"),
            end=date_param(request, "to"),
            tz_name=query_value(request, "tz"),
        )
        if request.accepted_renderer.format == "csv":
            return csv_download(stats, name=f"office-hours-{instructor_id}")
        return Response(QueueStatsSerializer(stats).data)
