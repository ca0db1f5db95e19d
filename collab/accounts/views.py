from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from collab.accounts import services
from collab.accounts.serializers import (
    AuthResponseSerializer,
    LoginSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
    WsTicketSerializer,
)


class _PublicAuthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_scope = "auth"


class RegisterView(_PublicAuthView):
    @extend_schema(
        request=RegisterSerializer, responses={201: AuthResponseSerializer}, summary="Register (always a student)"
    )
    def post(self, request):
        body = RegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user, tokens = services.user_register(**body.validated_data)
        return Response({"user": UserSerializer(user).data, **tokens}, status=status.HTTP_201_CREATED)


class LoginView(_PublicAuthView):
    @extend_schema(
        request=LoginSerializer, responses={200: AuthResponseSerializer}, summary="Log in with email and password"
    )
    def post(self, request):
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user, tokens = services.auth_login(**body.validated_data)
        return Response({"user": UserSerializer(user).data, **tokens})


class RefreshView(_PublicAuthView):
    @extend_schema(
        request=RefreshSerializer,
        responses={200: TokenPairSerializer},
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
        responses={204: OpenApiResponse(description="Logged out; the user's open sockets are closed")},
        summary="Blacklist the refresh token and close the user's sockets",
    )
    def post(self, request):
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.auth_logout(user=request.user, refresh=body.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: UserSerializer}, summary="The signed-in user")
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class WsTicketView(APIView):
    @extend_schema(
        request=None,
        responses={200: WsTicketSerializer},
        summary="A single-use ticket, valid 30 s, to open the socket as /ws/?ticket=…",
    )
    def post(self, request):
        return Response(WsTicketSerializer(services.ws_ticket_issue(user=request.user)).data)
