"""Account writes: registration, staff-made users, tokens, socket tickets."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from collab.accounts.models import Role, User
from collab.core.errors import Conflict, InvalidInput, NotAuthenticated
from collab.realtime.broadcast import sockets_control_on_commit
from collab.realtime.rooms import user_room
from collab.realtime.tickets import ticket_issue


def token_pair_for(user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


@transaction.atomic
def user_create(*, email: str, password: str, name: str, role: str = Role.STUDENT) -> User:
    """Creates an account; the only place a role other than student is given (staff tools)."""
    email = User.objects.normalize_email(email).lower()
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}.", fields={"role": [f"Must be one of {', '.join(Role.values)}."]})
    candidate = User(email=email, name=name, role=role)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise InvalidInput("The password is too weak.", code="weak_password", fields={"password": exc.messages})
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict("An account with this email already exists.", code="email_taken")
    candidate.set_password(password)
    if role == Role.ADMIN:
        candidate.is_staff = True
        candidate.is_superuser = True
    try:
        # The savepoint keeps the outer transaction usable when a racing registration wins.
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        raise Conflict("An account with this email already exists.", code="email_taken")
    return candidate


def user_register(*, email: str, password: str, name: str) -> tuple[User, dict[str, str]]:
    """Self-registration always makes a student; instructors and admins are made by staff."""
    with transaction.atomic():
        user = user_create(email=email, password=password, name=name, role=Role.STUDENT)
        tokens = token_pair_for(user)
    return user, tokens


def auth_login(*, email: str, password: str) -> tuple[User, dict[str, str]]:
    from django.contrib.auth import authenticate

    user = authenticate(email=email.strip().lower(), password=password)
    if user is None or not user.is_active:
        raise NotAuthenticated("Email or password is wrong.", code="invalid_credentials")
    return user, token_pair_for(user)


# One situation, one message: a refresh token already rotated or logged out is refused
# with this text whether simplejwt's own check or our locked re-check finds it.
TOKEN_REVOKED = "This refresh token was already used or revoked; sign in again."


def _verified_refresh(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError as exc:
        if "blacklisted" in str(exc).lower():
            raise NotAuthenticated(TOKEN_REVOKED, code="token_not_valid") from None
        raise NotAuthenticated(str(exc), code="token_not_valid") from None


@transaction.atomic
def auth_refresh(*, refresh: str) -> dict[str, str]:
    """Rotates a refresh token: the old one is blacklisted, a new pair is returned.

    The outstanding-token row is locked first, so of several requests racing with the
    same token exactly one finds it not yet blacklisted; the others wait for the lock,
    then see the blacklist row and are refused.
    """
    token = _verified_refresh(refresh)
    jti = token[jwt_settings.JTI_CLAIM]
    # order_by(): the model's default ordering joins the nullable user FK, and PostgreSQL
    # refuses FOR UPDATE on the nullable side of an outer join.
    outstanding = OutstandingToken.objects.select_for_update().filter(jti=jti).order_by().first()
    if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
        raise NotAuthenticated(TOKEN_REVOKED, code="token_not_valid")
    BlacklistedToken.objects.create(token=outstanding)
    user = User.objects.filter(id=token[jwt_settings.USER_ID_CLAIM], is_active=True).first()
    if user is None:
        raise NotAuthenticated("User is inactive or gone.", code="user_inactive")
    return token_pair_for(user)


@transaction.atomic
def auth_logout(*, user: User, refresh: str) -> None:
    """Blacklists the refresh token and closes every open socket of the user."""
    token = _verified_refresh(refresh)
    if str(token[jwt_settings.USER_ID_CLAIM]) != str(user.id):
        raise NotAuthenticated("This refresh token belongs to another user.", code="token_not_valid")
    outstanding = (
        OutstandingToken.objects.select_for_update().filter(jti=token[jwt_settings.JTI_CLAIM]).order_by().first()
    )
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)
    sockets_control_on_commit(user_room(user.id), close=True)


def ws_ticket_issue(*, user: User) -> dict[str, object]:
    from django.conf import settings

    return {"ticket": ticket_issue(user_id=user.id), "expires_in": settings.WS_TICKET_TTL_SECONDS}
