"""Django's middleware, run on the event loop under ASGI.

Django runs every `MiddlewareMixin` hook (process_request, process_view,
process_response) of an async request through `sync_to_async`: two or three hops to a
worker thread per middleware per request, whether the hook touches I/O or not. With the
default stack that is about fifteen hops for every API call; bench/ measured them as half
the cost of a simple authenticated request under daphne (docs/performance.md).

The hooks below are pure computation (headers, cookies, lazy objects), so these
subclasses call them inline. Where a hook *can* do I/O (the session save, messages
stored in the session, CSRF secrets kept in the session) it still goes to the thread,
but only on the requests that need it: an API call never touches the session, the admin
does. Under WSGI (the test client, manage.py) nothing changes: `__call__` is Django's.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, common, csrf, security
from whitenoise import middleware as whitenoise


class InlineHooksMixin:
    """Async path for a MiddlewareMixin whose hooks run inline unless a predicate says
    they may do I/O on this request."""

    def request_hook_inline(self, request) -> bool:
        return True

    def response_hook_inline(self, request, response) -> bool:
        return True

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            if self.request_hook_inline(request):
                response = self.process_request(request)
            else:
                response = await sync_to_async(self.process_request, thread_sensitive=True)(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_hook_inline(request, response):
                response = self.process_response(request, response)
            else:
                response = await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
        return response


class SecurityMiddleware(InlineHooksMixin, security.SecurityMiddleware):
    pass


class CommonMiddleware(InlineHooksMixin, common.CommonMiddleware):
    pass


class XFrameOptionsMiddleware(InlineHooksMixin, clickjacking.XFrameOptionsMiddleware):
    pass


class AuthenticationMiddleware(InlineHooksMixin, auth.AuthenticationMiddleware):
    """Only installs lazy `request.user` / `request.auser`; the query runs when a (sync)
    view reads them, in that view's thread."""


def _session_untouched(request) -> bool:
    session = getattr(request, "session", None)
    return session is None or not session.accessed


class SessionMiddleware(InlineHooksMixin, sessions.SessionMiddleware):
    """Creating the lazy store is inline; the response hook saves (database) only when
    the session was read or written, so only then does it need the thread."""

    def response_hook_inline(self, request, response) -> bool:
        return _session_untouched(request) and not settings.SESSION_SAVE_EVERY_REQUEST


class MessageMiddleware(InlineHooksMixin, messages.MessageMiddleware):
    """Storing messages may load and write the session: inline only when none were read
    or added on this request."""

    def response_hook_inline(self, request, response) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is None or not (storage.used or storage.added_new)


class CsrfViewMiddleware(InlineHooksMixin, csrf.CsrfViewMiddleware):
    """The CSRF secret lives in a cookie, so every hook is computation; with
    CSRF_USE_SESSIONS it would read the session, and then the hooks keep their thread."""

    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:
            # Django adapts process_view by whether it is a coroutine function.
            self.process_view = self._process_view_async

    async def _process_view_async(self, request, callback, callback_args, callback_kwargs):
        hook = super().process_view
        if settings.CSRF_USE_SESSIONS:
            return await sync_to_async(hook, thread_sensitive=True)(request, callback, callback_args, callback_kwargs)
        return hook(request, callback, callback_args, callback_kwargs)

    def request_hook_inline(self, request) -> bool:
        return not settings.CSRF_USE_SESSIONS

    def response_hook_inline(self, request, response) -> bool:
        return not settings.CSRF_USE_SESSIONS


class WhiteNoiseMiddleware(whitenoise.WhiteNoiseMiddleware):
    """WhiteNoise is sync-only, which would put every request (not only static ones)
    through a thread. The look-up is a dict read; only serving a file goes to the thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        super().__init__(get_response)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        return await self.get_response(request)
