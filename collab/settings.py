"""Settings for collab, read from the environment (django-environ).

With no environment at all the project runs on its embedded default: SQLite and the
Redis that `make run` starts itself (see collab/embedded.py). Production sets
DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG=false, ALLOWED_HOSTS and SOCKET_ALLOWED_ORIGINS.
"""

import warnings
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The fallback key only ever exists on a developer machine; its "django-insecure-"
# prefix makes check --deploy reject it (security.W009).
SECRET_KEY = env("SECRET_KEY", default="django-insecure-embedded-default-key-change-me-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
PORT = env.int("PORT", default=8000)

# Browsers always send Origin on a WebSocket handshake; these are the pages allowed to open one.
SOCKET_ALLOWED_ORIGINS = env.list(
    "SOCKET_ALLOWED_ORIGINS",
    default=["http://localhost:3000", "http://localhost:8000", "http://127.0.0.1:8000"],
)
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=SOCKET_ALLOWED_ORIGINS)
# Browsers may read these response headers of a cross-origin call (list paging, 429s).
CORS_EXPOSE_HEADERS = ["X-Next-Cursor", "Retry-After"]

INSTALLED_APPS = [
    "daphne",
    # django.contrib.admin with a rate-limited sign-in (collab/accounts/admin_site.py)
    "collab.accounts.adminconfig.CollabAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "collab.core",
    "collab.accounts",
    "collab.courses",
    "collab.realtime",
    "presence",
    "liveSessions",
    "officehours",
    "studygroups",
    "console",
]

# Threads for sockets' database work per web process (collab/core/asgi_fast/socket_db.py); keep it at
# or under DB_POOL_MAX_SIZE so a busy socket pool does not starve HTTP requests.
SOCKET_DB_THREADS = env.int("SOCKET_DB_THREADS", default=6)

# CPython's collector in the web processes (collab/asgi.py): allocations before a young
# collection, then young collections per middle one and middle ones per full one
# (Python's defaults: 700, 10, 10). docs/performance.md has the figures.
GC_THRESHOLDS = env.list("GC_THRESHOLDS", cast=int, default=[50_000, 20, 100])

# The framework surgery of collab/core/asgi_fast/ (docs/architecture.md, "Faster than
# stock"): the pieces that are on; ASGI_FAST=none turns every one off (stock Django and
# Channels), ASGI_FAST=cache,socket_db keeps just those two.
ASGI_FAST = [
    piece
    for piece in env.list(
        "ASGI_FAST",
        default=[
            "middleware",
            "cache",
            "consumer_loop",
            "group_delivery",
            "frame_write",
            "socket_db",
            "async_front",
            "front",
        ],
    )
    if piece != "none"
]

# Django's own middleware, subclassed to run on the event loop under ASGI instead of
# hopping to a thread per hook (collab/core/asgi_fast/middleware.py), or Django's own
# classes with the `middleware` piece off. A new middleware must be async-capable too:
# tests/core/test_middleware.py checks the list.
MIDDLEWARE = ["collab.core.api_errors.ApiErrorsAsJson"] + [
    f"collab.core.asgi_fast.middleware.{name}" if name and "middleware" in ASGI_FAST else stock
    for name, stock in [
        ("SecurityMiddleware", "django.middleware.security.SecurityMiddleware"),
        ("WhiteNoiseMiddleware", "whitenoise.middleware.WhiteNoiseMiddleware"),
        (None, "corsheaders.middleware.CorsMiddleware"),  # async-capable as it is
        ("SessionMiddleware", "django.contrib.sessions.middleware.SessionMiddleware"),
        ("CommonMiddleware", "django.middleware.common.CommonMiddleware"),
        ("CsrfViewMiddleware", "django.middleware.csrf.CsrfViewMiddleware"),
        ("AuthenticationMiddleware", "django.contrib.auth.middleware.AuthenticationMiddleware"),
        ("MessageMiddleware", "django.contrib.messages.middleware.MessageMiddleware"),
        ("XFrameOptionsMiddleware", "django.middleware.clickjacking.XFrameOptionsMiddleware"),
    ]
]
# Django's deploy checks see these subclasses as the middleware they extend
# (collab/core/checks.py): no security check is silenced.

ROOT_URLCONF = "collab.urls"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

ASGI_APPLICATION = "collab.asgi.application"
WSGI_APPLICATION = "collab.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DB_POOL", default=True):
    # Under ASGI each HTTP request runs in a thread of its own, so persistent connections
    # (CONN_MAX_AGE) leave one open connection per finished thread and a burst of requests
    # exhausts PostgreSQL ("too many clients"; measured by bench/, docs/performance.md).
    # A bounded pool per process (psycopg_pool, Django >= 5.1) reuses connections instead.
    # Size it so processes x DB_POOL_MAX_SIZE stays under PostgreSQL's max_connections.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # required with a pool
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; a busy timeout lets web, worker and beat share it. Each
    # transaction takes the write lock when it begins (IMMEDIATE): a deferred one that reads
    # and then writes fails at once with "database is locked" when another writer got in
    # between, and the busy timeout cannot help it. Writers queue instead, which is also
    # what stands in for PostgreSQL's row locks (select_for_update is a no-op on SQLite).
    # WAL lets readers go on while one writer writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
# Django's backends with a before-commit hook (collab/core/db): the outbox takes its per-room
# locks at the end of each transaction, in one order, so no two transactions deadlock on them.
DATABASES["default"]["ENGINE"] = {
    "django.db.backends.postgresql": "collab.core.db.postgresql",
    "django.db.backends.sqlite3": "collab.core.db.sqlite3",
}.get(DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])
# Lets parallel test runs on one PostgreSQL server keep apart.
if env("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Connections per process of the asyncio client for tickets and presence leases.
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=200)

_CHANNEL_LAYER_HOSTS = [
    {
        # redis-py 8 gives an asyncio pool 100 connections at most and a 5 s read timeout.
        # The core layer blocks in BZPOPMIN for 5 s, so with the default a slow loop turned an
        # idle wait into a TimeoutError that killed the socket, and a burst of connects or
        # disconnects (hundreds of group_add/group_discard at once) hit "Too many
        # connections". Measured by bench/ (docs/performance.md): both dropped sockets.
        "address": REDIS_URL,
        "socket_timeout": 15,
        "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=1000),
    }
]
# "pubsub" (default): one PUBLISH per broadcast; each process subscribed to the room gets
# it once and hands the same encoded frame to its own sockets. "core": a Redis sorted set
# per socket; a broadcast to a room of N members writes N copies to Redis and every process
# pops them one round trip at a time. bench/ measured pubsub at about half the fan-out
# latency and settle time of core (docs/performance.md). Pub/sub keeps no backlog; what
# a socket missed is replayed from the outbox in PostgreSQL instead (`resume`,
# collab/realtime/outbox.py), which survives Redis and web-process restarts.
CHANNEL_LAYER_BACKEND = env("CHANNEL_LAYER_BACKEND", default="pubsub")
if CHANNEL_LAYER_BACKEND == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "collab.realtime.layer.PubSubChannelLayer",
            "CONFIG": {"hosts": _CHANNEL_LAYER_HOSTS, "prefix": env("CHANNEL_LAYER_PREFIX", default="collab")},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": _CHANNEL_LAYER_HOSTS,
                "prefix": env("CHANNEL_LAYER_PREFIX", default="collab"),
                # A member's inbox holds this many frames before the layer drops new ones:
                # large enough for a burst of chat in a class of hundreds.
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=1000),
                "expiry": env.int("CHANNEL_LAYER_EXPIRY", default=60),
                "group_expiry": env.int("CHANNEL_LAYER_GROUP_EXPIRY", default=86400),
            },
        }
    }

CACHES = {
    "default": {
        # Django's Redis cache, with one connection pool per process
        # (collab/core/asgi_fast/cache.py), or Django's own with the `cache` piece off.
        "BACKEND": "collab.core.asgi_fast.cache.SharedPoolRedisCache"
        if "cache" in ASGI_FAST
        else "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="collab"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["collab.accounts.authentication.RevocableJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["djangorestframework_camel_case.render.CamelCaseJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["collab.core.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "collab.core.negotiation.ContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "collab.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "collab.core.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "collab.core.throttling.UserRedisThrottle",
        "collab.core.throttling.ScopedRedisThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("THROTTLE_USER_RATE", default="6000/min"),
        "auth": env("THROTTLE_AUTH_RATE", default="30/min"),
        "ws-ticket": env("THROTTLE_TICKET_RATE", default="30/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Failed sign-ins per account (REST login and the admin form) before even the right
# password waits for the window, counted from the first failure (collab/core/throttling.py).
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=15 * 60)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "collab API",
    "DESCRIPTION": (
        "REST API of collab, the real-time collaboration backend: accounts, courses, "
        "presence, live sessions, office hours and study groups. Bodies are camelCase; "
        "errors share one shape: {error: {code, message, fields?}}. Input is read as "
        "typed: an id is a UUID string (8-4-4-4-12 hex digits), a number a JSON number, a "
        "boolean true or false; nothing is coerced. A query parameter sent empty "
        "(`?before=`) is refused (400 `invalid` naming it), not read as absent."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar): /api/docs works with
    # no internet and loads nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "CAMELIZE_NAMES": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "drf_spectacular.contrib.djangorestframework_camel_case.camelize_serializer_fields",
        "collab.core.schema.add_error_responses",
    ],
    # Several apps name a choice field `status` or `role`; give each choice set its own
    # name, and /health's three parts share one.
    "ENUM_NAME_OVERRIDES": {
        "UserRoleEnum": "collab.accounts.models.Role",
        "CourseRoleEnum": "collab.courses.models.EnrollmentRole",
        "GroupMemberRoleEnum": "studygroups.models.MemberRole",
        "LiveSessionStatusEnum": "liveSessions.models.SessionStatus",
        "QueueEntryStatusEnum": "officehours.models.EntryStatus",
        "PresenceStatusEnum": "presence.models.Status",
        "HealthStateEnum": ["ok", "unavailable"],
    },
}

# Celery: broker and results on the same Redis; beat's periodic tasks are registered
# by each app's tasks module (collab/celery.py).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# At-least-once: a task is acknowledged when it has finished, so a worker killed mid-run
# (SIGKILL, OOM) leaves it to another worker: at once when a pool child dies (rejected
# and requeued), after CELERY_VISIBILITY_TIMEOUT when the whole worker dies. Every task
# is idempotent and safe to run twice at once (each claims its rows or takes a lock).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300),
    # Each worker looks for tasks of dead workers (unacknowledged past the visibility
    # timeout) this often; kombu's default scans only every tenth look (~100 s).
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": 1,
}
# The broker is Redis: keep retrying through an outage instead of giving up.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BEAT_SCHEDULE_FILENAME = env(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(BASE_DIR / ".run" / "celerybeat-schedule")
)

# The socket: frames larger than this are refused (by uvicorn itself: the Procfile passes
# it as --ws-max-size); each socket may send RATE frames a second with bursts up to BURST;
# a socket with at least ABUSE_LIMIT refused frames in the last ABUSE_WINDOW seconds, more
# than half of its frames in that window, is closed with 4429 (collab/realtime/flood.py).
SOCKET_MAX_FRAME_BYTES = env.int("SOCKET_MAX_FRAME_BYTES", default=64 * 1024)
SOCKET_RATE_PER_SECOND = env.float("SOCKET_RATE_PER_SECOND", default=20.0)
SOCKET_RATE_BURST = env.int("SOCKET_RATE_BURST", default=40)
SOCKET_ABUSE_LIMIT = env.int("SOCKET_ABUSE_LIMIT", default=50)
SOCKET_ABUSE_WINDOW = env.int("SOCKET_ABUSE_WINDOW", default=10)
# Open sockets per user across every process; one more is refused (4008).
SOCKET_MAX_PER_USER = env.int("SOCKET_MAX_PER_USER", default=20)
# Group messages that may wait for one socket in its process (the client reads slower than
# its rooms send: its write buffer full, the transport paused); one more drops the socket,
# whose client reconnects and resumes (collab/realtime/layer.py). Bounds a stalled
# client's share of the process's memory (most room frames are a few KiB). Only with
# the `group_delivery` piece (ASGI_FAST); without it the stock queue has no bound.
SOCKET_SEND_QUEUE_MAX = env.int("SOCKET_SEND_QUEUE_MAX", default=1000)
# Seconds before its credentials expire that a socket is sent `reauth-required`.
SOCKET_REAUTH_NOTICE = env.int("SOCKET_REAUTH_NOTICE", default=60)
WS_TICKET_TTL_SECONDS = 30

# The outbox of room frames (collab/realtime/outbox.py, docs/protocol.md "Sequence numbers
# and resume"): each room keeps at least its last OUTBOX_RETAIN_EVENTS frames and every frame
# younger than OUTBOX_RETAIN_SECONDS for `resume`; older gaps get `resync`.
OUTBOX_RETAIN_EVENTS = env.int("OUTBOX_RETAIN_EVENTS", default=1000)
OUTBOX_RETAIN_SECONDS = env.int("OUTBOX_RETAIN_SECONDS", default=600)
OUTBOX_PRUNE_INTERVAL = env.float("OUTBOX_PRUNE_INTERVAL", default=60.0)
# A frame whose send failed is never pruned before this age (seconds).
OUTBOX_UNSENT_MAX_AGE = env.int("OUTBOX_UNSENT_MAX_AGE", default=86400)
# Each web process's relay looks for unsent frames every RELAY_INTERVAL seconds and re-sends
# those older than RELAY_GRACE (their on-commit send failed or its process died); a claim
# lasts CLAIM_SECONDS, after which another process may retry.
OUTBOX_RELAY_INTERVAL = env.float("OUTBOX_RELAY_INTERVAL", default=1.0)
OUTBOX_RELAY_GRACE = env.float("OUTBOX_RELAY_GRACE", default=1.0)
OUTBOX_CLAIM_SECONDS = env.float("OUTBOX_CLAIM_SECONDS", default=10.0)

# Presence (presence/)
PRESENCE_OFFLINE_AFTER = env.int("PRESENCE_OFFLINE_AFTER", default=300)
PRESENCE_WRITE_MIN_INTERVAL = env.int("PRESENCE_WRITE_MIN_INTERVAL", default=30)
PRESENCE_SWEEP_INTERVAL = env.int("PRESENCE_SWEEP_INTERVAL", default=120)
# Each web process re-takes the leases of all its open sockets this often (seconds), and at
# once when it reaches Redis again after an outage: leases survive a Redis restart.
PRESENCE_REASSERT_INTERVAL = env.float(
    "PRESENCE_REASSERT_INTERVAL", default=max(1.0, env.int("PRESENCE_OFFLINE_AFTER", default=300) / 5)
)
# A course room gets at most one presence frame per window (changes inside it are batched).
PRESENCE_BROADCAST_WINDOW = env.float("PRESENCE_BROADCAST_WINDOW", default=0.6)
# How long a course presence snapshot may serve GET /api/presence/course/:id at most; it is
# dropped earlier by every change it shows (presence/snapshots.py). 0 turns snapshots off.
PRESENCE_SNAPSHOT_TTL = env.int("PRESENCE_SNAPSHOT_TTL", default=10)

# Live sessions (liveSessions/)
LIVE_SESSION_REMINDER_MINUTES = env.int("LIVE_SESSION_REMINDER_MINUTES", default=10)
LIVE_SESSION_AUTO_END_GRACE = env.int("LIVE_SESSION_AUTO_END_GRACE", default=30)
# Joins and leaves of a session with this many seats taken or more are coalesced: at most
# one session-participants-batch per window (liveSessions.announce). 0 turns it off.
LIVE_SESSION_BATCH_THRESHOLD = env.int("LIVE_SESSION_BATCH_THRESHOLD", default=50)
LIVE_SESSION_BATCH_WINDOW = env.float("LIVE_SESSION_BATCH_WINDOW", default=0.5)
# How often beat sends the reminders and the auto-end, in seconds.
LIVE_SESSION_TICK_SECONDS = env.int("LIVE_SESSION_TICK_SECONDS", default=30)
# Seconds a session-typing-start lasts without renewal before the others get
# session-user-stop-typing (liveSessions/typing_lifetime.py).
TYPING_TIMEOUT = env.float("TYPING_TIMEOUT", default=6.0)

# Office hours (officehours/): how often beat checks slot boundaries, in seconds.
OFFICE_HOURS_TICK_SECONDS = env.int("OFFICE_HOURS_TICK_SECONDS", default=30)

# Demo data is only ever loaded by the embedded run command.
EMBEDDED_DEFAULT = env.bool("COLLAB_EMBEDDED", default=False)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The level on every line: an operator (and tests/realtime/test_frame_fuzz.py) can
    # tell an ERROR from the ordinary.
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # Django's default config gives "django" a console handler of its own when DEBUG is on
    # (make run): every 4xx/5xx record was printed twice, once without its level. Its
    # records go to the root handler only.
    "filters": {"client_error": {"()": "collab.core.logfilters.ClientErrorAsWarning"}},
    "loggers": {
        "django": {"handlers": [], "level": env("LOG_LEVEL", default="INFO"), "propagate": True},
        # A client's bad request (its Host header, a body or form over Django's limits) is
        # answered 400/413 and logged as one WARNING line, not an ERROR with a traceback.
        **{
            f"django.security.{name}": {"filters": ["client_error"]}
            for name in ("DisallowedHost", "RequestDataTooBig", "TooManyFieldsSent", "TooManyFilesSent")
        },
    },
}

# Error reports (DEBUG pages, mails to ADMINS) hide credentials inside URLs too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "collab.core.reporting.CredentialsHiddenFilter"

# Admin static files are served by the app itself (whitenoise), also under daphne.
WHITENOISE_USE_FINDERS = True
# With the finders on, a missing STATIC_ROOT (collectstatic never ran, as on `make run`) is
# expected; WhiteNoise would still warn about it at every start of every process.
warnings.filterwarnings("ignore", message=r"No directory at: .*staticfiles", category=UserWarning)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
