from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from collab.accounts import services, ticket_front
from collab.accounts.authentication import request_credentials
from collab.accounts.serializers import (
    AuthResponseSerializer,
    LoginSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
    WsTicketSerializer,
)
from collab.core.asgi_fast.async_front import async_front

_ERROR = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorDetail",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(required=False),
            },
        )
    },
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(_ERROR, description=description)


_INVALID = _error("invalid: a field is missing or wrong (`fields` names it)")
_THROTTLED = _error("throttled: over a rate limit; the Retry-After header says when to try again")
_UNAUTHENTICATED = _error(
    "not_authenticated, token_not_valid (bad or expired token), token_revoked (the session was signed out), "
    "user_inactive"
)


class _PublicAuthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_scope = "auth"


class RegisterView(_PublicAuthView):
    @extend_schema(
        request=RegisterSerializer,
        responses={
            201: AuthResponseSerializer,
            400: _error("invalid, weak_password"),
            409: _error("email_taken"),
            429: _THROTTLED,
        },
        summary="Register (always a student)",
    )
    def post(self, request):
        body = RegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user, tokens = services.user_register(**body.validated_data)
        return Response({"user": UserSerializer(user).data, **tokens}, status=status.HTTP_201_CREATED)


class LoginView(_PublicAuthView):
    @extend_schema(
        request=LoginSerializer,
        responses={
            200: AuthResponseSerializer,
            400: _INVALID,
            401: _error("invalid_credentials"),
            429: _error(
                "throttled: too many attempts from this address, or LOGIN_FAILURE_LIMIT failed sign-ins for this "
                "account within LOGIN_FAILURE_WINDOW (then even the right password waits); see Retry-After"
            ),
        },
        summary="Log in with email and password (starts a new signed-in session)",
    )
    def post(self, request):
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user, tokens = services.auth_login(**body.validated_data)
        return Response({"user": UserSerializer(user).data, **tokens})


class RefreshView(_PublicAuthView):
    @extend_schema(
        request=RefreshSerializer,
        responses={
            200: TokenPairSerializer,
            400: _INVALID,
            401: _error("token_not_valid (bad, expired or already used), token_revoked, user_inactive"),
            429: _THROTTLED,
        },
        summary="Trade a refresh token for a new pair; the old one is refused from then on",
    )
    def post(self, request):
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(services.auth_refresh(refresh=body.validated_data["refresh"]))


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=RefreshSerializer,
        responses={
            204: OpenApiResponse(
                description="Logged out: no token of this session works any more and its open sockets are closed"
            ),
            400: _INVALID,
            401: _UNAUTHENTICATED,
            429: _THROTTLED,
        },
        summary="Sign out this session (device): its tokens stop working everywhere, its sockets close",
    )
    def post(self, request):
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.auth_logout(
            user=request.user, refresh=body.validated_data["refresh"], access=request_credentials(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            204: OpenApiResponse(
                description="Every session of the user is signed out and every socket of theirs is closed"
            ),
            401: _UNAUTHENTICATED,
            429: _THROTTLED,
        },
        summary="Sign out everywhere: every token of the user stops working, every socket closes",
    )
    def post(self, request):
        services.auth_logout_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(
        responses={200: UserSerializer, 401: _UNAUTHENTICATED, 429: _THROTTLED}, summary="The signed-in user"
    )
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class WsTicketView(APIView):
    throttle_scope = ticket_front.THROTTLE_SCOPE

    @extend_schema(
        request=None,
        responses={
            200: WsTicketSerializer,
            401: _UNAUTHENTICATED,
            429: _error("throttled: over THROTTLE_TICKET_RATE tickets for this user; see Retry-After"),
        },
        summary="A single-use ticket, valid 30 s, to open the socket as /ws/?ticket=…",
    )
    def post(self, request):
        issued = services.ws_ticket_issue(user=request.user, credentials=request_credentials(request))
        return Response(WsTicketSerializer(issued).data)

    @classmethod
    def as_view(cls, **initkwargs):
        """The view behind an async fast path (piece `async_front`). Every student's client
        asks for a ticket when a class starts (hundreds within seconds): the ticket is one
        Redis SET, but the DRF path around it (a worker thread, authentication reading the
        user row, throttles, rendering) was 11 % of the web process's CPU in a profile of
        the bench's class-start storm (500 members, issue 16).

        A valid bearer token that Redis vouches for (not signed out, generation current),
        within both rates DRF applies here, gets its ticket on the event loop: the same
        body, the same counters, no query, one Redis script (collab.accounts.ticket_front,
        which also answers in front of Django's handler). Every other request (no or bad token, signed
        out, a generation Redis does not know, over a rate, Redis down) takes the DRF path
        above, which answers or refuses as before. A ticket is only a promise to try the
        handshake: that reads the user row and refuses an inactive, deleted or signed-out
        user (collab.realtime.auth), whichever path issued the ticket. (Not the class
        docstring: that is the route's OpenAPI description.)"""
        return async_front(super().as_view(**initkwargs), _ws_ticket_on_the_loop)


async def _ws_ticket_on_the_loop(request) -> bytes | None:
    """The ticket body, or None for the DRF path to handle the request (collab.accounts.ticket_front)."""
    if request.method != "POST":
        return None
    return await ticket_front.ws_ticket_answer(
        authorization=request.headers.get("Authorization"),
        accept=request.headers.get("Accept"),
        query_string=request.META.get("QUERY_STRING", ""),
        notes=request,
    )
