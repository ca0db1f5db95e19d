"""Presence REST routes: thin, each validates, calls one selector or service, shapes."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from collab.core.asgi_fast.async_front import async_front
from collab.core.params import limit_param, limit_schema_parameter
from collab.core.renderers import WireReadyJSONRenderer
from presence import course_read, selectors, services
from presence.events import presence_item
from presence.permissions import PresencePermission
from presence.serializers import (
    LIST_MAX_LIMIT,
    ActivityUpdateSerializer,
    BulkRequestSerializer,
    BulkResponseSerializer,
    CourseOnlineSerializer,
    HeartbeatResponseSerializer,
    OnlineListSerializer,
    PresenceItemSerializer,
    StatusUpdateSerializer,
)

LIMIT = limit_schema_parameter(default=100, maximum=LIST_MAX_LIMIT)


class _PresenceView(APIView):
    permission_classes = [PresencePermission]


class _PresenceListView(_PresenceView):
    """Lists of up to 500 users: items are built wire-ready (presence_item) and rendered
    without the camelising pass; the serializers still document the shape."""

    renderer_classes = [WireReadyJSONRenderer]


class OnlineView(_PresenceListView):
    @extend_schema(parameters=[LIMIT], responses={200: OnlineListSerializer}, summary="Online users visible to me")
    def get(self, request):
        limit = limit_param(request, default=100, maximum=LIST_MAX_LIMIT)
        users, count = selectors.presence_online_users(viewer=request.user, limit=limit)
        return Response({"users": [presence_item(user) for user in users], "count": count})


class CourseOnlineView(_PresenceListView):
    """The read every member's client makes on load (a class of hundreds within seconds).

    A member with a valid token, within their rate, is answered from the course's
    presence snapshot before Django's handler or on the event loop (presence.course_read:
    no query, no thread, the same bytes). Every other request (no or bad token, not a
    member, admins, a bad ?limit=, over the rate) goes down the DRF path below, which
    answers or refuses as for any route."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "course_id",
                OpenApiTypes.UUID,
                OpenApiParameter.PATH,
                description="The course: one you teach, are enrolled in (student or TA), or any course for an admin.",
            ),
            LIMIT,
        ],
        responses={
            200: OpenApiResponse(
                CourseOnlineSerializer,
                description=(
                    "The course's online members, by name: at most `limit`; `count` counts them all. "
                    "`staff` marks the instructor and the TAs."
                ),
            ),
            400: OpenApiResponse(description="invalid: a bad `limit` (not an integer in 1..500, or sent empty)"),
            401: OpenApiResponse(
                description="not_authenticated / token_not_valid: no, bad, expired or signed-out token",
            ),
            404: OpenApiResponse(
                description="course_not_found: no such course, or you are not a member of it (nor an admin)"
            ),
            429: OpenApiResponse(description="throttled: over your rate; Retry-After says when to try again"),
        },
        summary="Online members of a course (members and admins; 404 otherwise)",
        description=(
            "Who of a course's members (its instructor, TAs and students) is online now, as every member sees "
            "them: their effective status (online, away or busy; invisible and disconnected members are left "
            "out), activity and last-seen time, and whether each is course staff. Sorted by name, then id. "
            "Clients read it once on load and then follow the course room's `presence-changed` events "
            "(docs/protocol.md)."
        ),
    )
    def get(self, request, course_id):
        limit = limit_param(request, default=100, maximum=LIST_MAX_LIMIT)
        course, users, count, staff_ids = selectors.presence_online_in_course(
            viewer=request.user, course_id=course_id, limit=limit
        )
        staff = {str(user_id) for user_id in staff_ids}
        return Response(
            {
                "courseId": course.id,
                "users": [presence_item(user, staff=user.user_id in staff) for user in users],
                "count": count,
            }
        )

    @classmethod
    def as_view(cls, **initkwargs):
        return async_front(super().as_view(**initkwargs), _course_online_from_snapshot)


async def _course_online_from_snapshot(request, course_id) -> bytes | None:
    """The snapshot answer (presence.course_read), or None for the DRF path to handle the
    request."""
    if request.method != "GET":
        return None
    return await course_read.course_online_answer(
        authorization=request.headers.get("Authorization"),
        accept=request.headers.get("Accept"),
        query_string=request.META.get("QUERY_STRING", ""),
        course_id=course_id,
        notes=request,
    )


class UserPresenceView(_PresenceView):
    @extend_schema(responses={200: PresenceItemSerializer}, summary="One user's presence (404 when not visible)")
    def get(self, request, user_id):
        return Response(PresenceItemSerializer(selectors.presence_get(viewer=request.user, user_id=user_id)).data)


class BulkView(_PresenceListView):
    @extend_schema(
        request=BulkRequestSerializer, responses={200: BulkResponseSerializer}, summary="Presence of up to 500 users"
    )
    def post(self, request):
        body = BulkRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        users = selectors.presence_get_many(viewer=request.user, user_ids=body.validated_data["user_ids"])
        return Response({"users": [presence_item(user) for user in users]})


class StatusView(_PresenceView):
    @extend_schema(
        request=StatusUpdateSerializer,
        responses={200: PresenceItemSerializer},
        summary="Set my status (offline = invisible) and optionally my activity",
    )
    def put(self, request):
        body = StatusUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        view = services.presence_update(user=request.user, **body.validated_data)
        return Response(PresenceItemSerializer(view).data)


class ActivityView(_PresenceView):
    @extend_schema(request=ActivityUpdateSerializer, responses={200: PresenceItemSerializer}, summary="Set my activity")
    def put(self, request):
        body = ActivityUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        view = services.presence_set_activity(user=request.user, activity=body.validated_data["activity"])
        return Response(PresenceItemSerializer(view).data)


class HeartbeatView(_PresenceView):
    @extend_schema(
        request=None,
        responses={200: HeartbeatResponseSerializer},
        summary="Renew my lease without a socket and update lastSeenAt",
    )
    def post(self, request):
        expires_in = services.presence_heartbeat(user_id=request.user.id)
        view = selectors.presence_get(viewer=request.user, user_id=request.user.id)
        return Response(HeartbeatResponseSerializer({**asdict(view), "expires_in": expires_in}).data)
