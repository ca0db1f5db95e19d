"""Thin REST views: validate, call one service (or selector), serialize."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from collab.chat.serializers import history_response
from collab.chat.services import HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT
from collab.core.params import (
    NEXT_CURSOR_HEADER,
    cursor_param,
    cursor_schema_parameters,
    datetime_param,
    limit_param,
    limit_schema_parameter,
    uuid_param,
)
from studygroups import selectors, services
from studygroups.permissions import StudyGroupPermission
from studygroups.serializers import (
    GroupChatHistorySerializer,
    StudyGroupCreateSerializer,
    StudyGroupMemberSerializer,
    StudyGroupSerializer,
    StudyGroupUpdateSerializer,
)

TAG = ["study groups"]
GROUPS_LIMIT = limit_schema_parameter(
    default=selectors.GROUP_LIST_DEFAULT_LIMIT, maximum=selectors.GROUP_LIST_MAX_LIMIT
)
MESSAGES_LIMIT = limit_schema_parameter(default=HISTORY_DEFAULT_LIMIT, maximum=HISTORY_MAX_LIMIT)


def _group_response(request, group_id, status_code=status.HTTP_200_OK) -> Response:
    group = selectors.group_get_visible(user=request.user, group_id=group_id)
    return Response(StudyGroupSerializer(group).data, status=status_code)


class StudyGroupCreateView(APIView):
    permission_classes = [StudyGroupPermission]

    @extend_schema(
        tags=TAG,
        request=StudyGroupCreateSerializer,
        responses={201: StudyGroupSerializer},
        summary="Create a study group in a course (course members); the creator becomes its admin",
    )
    def post(self, request):
        body = StudyGroupCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        group = services.study_group_create(actor=request.user, **body.validated_data)
        return _group_response(request, group.id, status.HTTP_201_CREATED)


class CourseStudyGroupsView(APIView):
    permission_classes = [StudyGroupPermission]

    @extend_schema(
        tags=TAG,
        parameters=[GROUPS_LIMIT, *cursor_schema_parameters(what="groups")],
        responses={
            200: OpenApiResponse(
                StudyGroupSerializer(many=True),
                description=f"The page; the {NEXT_CURSOR_HEADER} header holds the next page's cursor "
                "(absent on the last page).",
            )
        },
        summary="Active study groups of a course, newest first (course members)",
    )
    def get(self, request, course_id):
        limit = limit_param(request, default=selectors.GROUP_LIST_DEFAULT_LIMIT, maximum=selectors.GROUP_LIST_MAX_LIMIT)
        groups, next_cursor = selectors.group_list_for_course(
            user=request.user,
            course_id=course_id,
            cursor=cursor_param(request),
            before=datetime_param(request, "before"),
            limit=limit,
        )
        response = Response(StudyGroupSerializer(groups, many=True).data)
        if next_cursor:
            response[NEXT_CURSOR_HEADER] = next_cursor
        return response


class StudyGroupDetailView(APIView):
    permission_classes = [StudyGroupPermission]

    @extend_schema(tags=TAG, responses={200: StudyGroupSerializer}, summary="One study group (course members)")
    def get(self, request, group_id):
        return _group_response(request, group_id)

    @extend_schema(
        tags=TAG,
        request=StudyGroupUpdateSerializer,
        responses={200: StudyGroupSerializer},
        summary="Change name, description or maxMembers (group admins)",
    )
    def patch(self, request, group_id):
        body = StudyGroupUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.study_group_update(actor=request.user, group_id=group_id, **body.validated_data)
        return _group_response(request, group_id)

    @extend_schema(
        tags=TAG,
        responses={204: OpenApiResponse(description="Deactivated")},
        summary="Delete (deactivate) a group: a group admin, the course's instructor or an admin",
    )
    def delete(self, request, group_id):
        services.study_group_delete(actor=request.user, group_id=group_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StudyGroupJoinView(APIView):
    permission_classes = [StudyGroupPermission]

    @extend_schema(
        tags=TAG,
        request=None,
        responses={200: StudyGroupSerializer},
        summary="Join an active group with a free place (course members)",
    )
    def post(self, request, group_id):
        services.study_group_join(actor=request.user, group_id=group_id)
        return _group_response(request, group_id)


class StudyGroupLeaveView(APIView):
    permission_classes = [StudyGroupPermission]

    @extend_schema(
        tags=TAG,
        request=None,
        responses={204: OpenApiResponse(description="Left the group")},
        summary="Leave a group (its members); the last admin hands over, the last member closes it",
    )
    def post(self, request, group_id):
        services.study_group_leave(actor=request.user, group_id=group_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StudyGroupMembersView(APIView):
    permission_classes = [StudyGroupPermission]

    @extend_schema(
        tags=TAG,
        responses={200: StudyGroupMemberSerializer(many=True)},
        summary="Members of a group, admins first (course members)",
    )
    def get(self, request, group_id):
        group = selectors.group_get_visible(user=request.user, group_id=group_id)
        return Response(StudyGroupMemberSerializer(selectors.group_members(group=group), many=True).data)


class StudyGroupMemberDetailView(APIView):
    permission_classes = [StudyGroupPermission]

    @extend_schema(
        tags=TAG,
        parameters=[
            OpenApiParameter(
                "handOverTo",
                OpenApiTypes.UUID,
                description="Removing the group's only admin: the member (user id) who becomes admin.",
            )
        ],
        responses={
            204: OpenApiResponse(
                description="Removed: the group and the course hear study-group-member-left "
                '(reason "removed"; "left" when you remove yourself, as POST …/leave), and '
                "the member's sockets leave the group room"
            ),
            400: OpenApiResponse(description="invalid: handOverTo is empty, not a UUID or not another member"),
            401: None,
            403: OpenApiResponse(description="not_group_admin: only the group's admins and staff remove others"),
            404: OpenApiResponse(description="study_group_not_found, or member_not_found (the user is not a member)"),
            409: OpenApiResponse(
                description="group_inactive; last_admin: the only admin, and no handOverTo; "
                "not_a_member (removing yourself when you are not a member)"
            ),
        },
        summary="Remove a member (the group's admins or staff); removing yourself is leaving",
    )
    def delete(self, request, group_id, user_id):
        services.study_group_member_remove(
            actor=request.user, group_id=group_id, user_id=user_id, hand_over_to=uuid_param(request, "handOverTo")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class StudyGroupMessagesView(APIView):
    permission_classes = [StudyGroupPermission]

    @extend_schema(
        tags=TAG,
        parameters=[MESSAGES_LIMIT, *cursor_schema_parameters(what="messages")],
        responses={200: GroupChatHistorySerializer},
        summary="Chat history, newest first (group members)",
    )
    def get(self, request, group_id):
        limit = limit_param(request, default=HISTORY_DEFAULT_LIMIT, maximum=HISTORY_MAX_LIMIT)
        messages, next_cursor = selectors.group_messages(
            user=request.user,
            group_id=group_id,
            cursor=cursor_param(request),
            before=datetime_param(request, "before"),
            limit=limit,
        )
        return Response(history_response(GroupChatHistorySerializer, messages, next_cursor=next_cursor))


class StudyGroupMessageDetailView(APIView):
    permission_classes = [StudyGroupPermission]

    @extend_schema(
        tags=TAG,
        request=None,
        responses={
            204: OpenApiResponse(description="Deleted: the room gets study-group-message-deleted"),
            401: OpenApiResponse(description="not_authenticated"),
            403: OpenApiResponse(description="not_allowed_to_moderate"),
            404: OpenApiResponse(description="study_group_not_found / message_not_found"),
            409: OpenApiResponse(description="message_already_deleted"),
        },
        summary="Delete a chat message (moderation: group admins, the course's staff, site staff)",
    )
    def delete(self, request, group_id, message_id):
        services.study_group_message_moderate(actor=request.user, group_id=group_id, message_id=message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
