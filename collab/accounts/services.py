"""Account writes: registration, staff-made users, tokens, sign-out, socket tickets."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token

from collab.accounts.models import Role, User
from collab.accounts.revocation import credentials_revoked, generation_publish, sessions_revoke, user_generation_advance
from collab.core.errors import Conflict, InvalidInput, NotAuthenticated, TooManyRequests
from collab.core.throttling import login_failures
from collab.core.tokens import GENERATION_CLAIM, SESSION_CLAIM, Credentials
from collab.realtime.broadcast import sockets_control_on_commit
from collab.realtime.rooms import user_room
from collab.realtime.tickets import ticket_issue


def token_pair_for(user: User, *, session_id: str | None = None) -> dict[str, str]:
    """A new pair for `user`: in a new signed-in session, or continuing `session_id`
    (refresh). Both tokens carry the session and the user's current token generation."""
    refresh = RefreshToken.for_user(user)
    refresh[SESSION_CLAIM] = session_id or uuid.uuid4().hex
    refresh[GENERATION_CLAIM] = user.token_generation
    generation_publish(user_id=user.id, generation=user.token_generation)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _email_taken() -> Conflict:
    message = "An account with this email already exists."
    return Conflict(message, code="email_taken", fields={"email": [message]})


@transaction.atomic
def user_create(*, email: str, password: str, name: str, role: str = Role.STUDENT) -> User:
    """Creates an account; the only place a role other than student is given (staff tools)."""
    email = User.objects.normalize_email(email).lower()
    if role not in Role.values:
        raise InvalidInput.for_fields({"role": [f"Must be one of: {', '.join(Role.values)}."]})
    candidate = User(email=email, name=name, role=role)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise InvalidInput("The password is too weak.", code="weak_password", fields={"password": exc.messages})
    if User.objects.filter(email__iexact=email).exists():
        raise _email_taken()
    candidate.set_password(password)
    if role == Role.ADMIN:
        candidate.is_staff = True
        candidate.is_superuser = True
    try:
        # The savepoint keeps the outer transaction usable when a racing registration wins.
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        raise _email_taken()
    return candidate


def user_register(*, email: str, password: str, name: str) -> tuple[User, dict[str, str]]:
    """Self-registration always makes a student; instructors and admins are made by staff."""
    with transaction.atomic():
        user = user_create(email=email, password=password, name=name, role=Role.STUDENT)
        tokens = token_pair_for(user)
    return user, tokens


def login_refused_for(email: str) -> int | None:
    """Seconds until the account may be tried again after too many failures, or None."""
    return login_failures().retry_after(email.strip().lower())


def login_failed(email: str) -> None:
    login_failures().record_failure(email.strip().lower())


def auth_login(*, email: str, password: str) -> tuple[User, dict[str, str]]:
    """Checks the password and starts a new signed-in session.

    Raises TooManyRequests (429, Retry-After) once the account had LOGIN_FAILURE_LIMIT
    failures in LOGIN_FAILURE_WINDOW seconds: then even the right password waits for the
    window to close, so guesses spread over many addresses gain nothing. Unknown emails
    are counted alike, so the answer says nothing about which accounts exist."""
    from django.contrib.auth import authenticate

    email = email.strip().lower()
    wait = login_refused_for(email)
    if wait is not None:
        raise TooManyRequests(f"Too many failed sign-ins for this account; try again in {wait} s.", retry_after=wait)
    user = authenticate(email=email, password=password)
    if user is None or not user.is_active:
        login_failed(email)
        raise NotAuthenticated("Email or password is wrong.", code="invalid_credentials")
    login_failures().clear(email)
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


def _signed_refresh(raw: str) -> RefreshToken:
    """A refresh token with a valid signature, unexpired, blacklisted or not: a logout
    presenting a token that a racing refresh just rotated still ends its session."""
    try:
        token = RefreshToken(raw, verify=False)
        token.token_backend.decode(raw, verify=True)
        Token.verify(token)
    except (TokenError, TokenBackendError) as exc:
        raise NotAuthenticated(str(exc), code="token_not_valid")
    return token


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
    user = User.objects.filter(id=token[jwt_settings.USER_ID_CLAIM], is_active=True).first()
    if user is None:
        raise NotAuthenticated("User is inactive or gone.", code="user_inactive")
    # A rotation racing a logout of the same session, or any refresh after "log out
    # everywhere": the session is over even if this token escaped the blacklist.
    if credentials_revoked(Credentials.from_claims(token.payload), user_generation=user.token_generation):
        raise NotAuthenticated("This session was signed out.", code="token_revoked")
    BlacklistedToken.objects.create(token=outstanding)
    return token_pair_for(user, session_id=token.get(SESSION_CLAIM))


@transaction.atomic
def auth_logout(*, user: User, refresh: str, access: Credentials | None = None) -> None:
    """Signs out one session (this device): blacklists the refresh token and revokes its
    session, and the session of the access token that asked if it differs, so no token
    of theirs works again and their open sockets are closed (4000). Tokens issued
    without a session (older clients) close every socket of the user instead."""
    token = _signed_refresh(refresh)
    if str(token[jwt_settings.USER_ID_CLAIM]) != str(user.id):
        raise NotAuthenticated("This refresh token belongs to another user.", code="token_not_valid")
    outstanding = (
        OutstandingToken.objects.select_for_update().filter(jti=token[jwt_settings.JTI_CLAIM]).order_by().first()
    )
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)
    sessions = {token.get(SESSION_CLAIM), access.session_id if access else None} - {None}
    if sessions:
        sessions_revoke(user=user, session_ids=sessions)
    else:
        sockets_control_on_commit(user_room(user.id), close=True)


@transaction.atomic
def auth_logout_all(*, user: User) -> None:
    """Signs out every session of the user: every token they hold stops working and
    every socket of theirs, on every process, is closed (4000)."""
    user_generation_advance(user=user)


def ws_ticket_issue(*, user: User, credentials: Credentials) -> dict[str, object]:
    """A single-use ticket for a socket handshake, carrying the session and expiry of
    the access token that asked: the socket lives no longer than that token."""
    return {"ticket": ticket_issue(credentials=credentials), "expires_in": settings.WS_TICKET_TTL_SECONDS}
