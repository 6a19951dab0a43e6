"""Settings for every way the OMS runs, read from environment variables.

Without any environment the OMS runs embedded: a SQLite file under ``var/`` and Celery on a
file-system transport, so a newcomer needs no service. ``DATABASE_URL`` and ``REDIS_URL`` switch to
the production shape (PostgreSQL and Redis); ``oms.settings_production`` hardens the rest.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OMS_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# The embedded default needs a key that works out of the box; production refuses to start without
# its own (see settings_production).
SECRET_KEY = os.environ.get("SECRET_KEY", "embedded-only-insecure-key-change-me-for-any-real-deployment")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# Where customers reach the public pages (tracking links in the API and in messages).
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oms",
    "orders",
    "inventory",
    "replenishment",
    "routing",
    "shipments",
    "tracking",
    "returns",
    "notifications",
    "kpis",
    "integrations",
    "anymail",
    "demo",
    "simulation",
]

MIDDLEWARE = [
    "oms.middleware.RefuseNulCharacters",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oms.middleware.ContentSecurityPolicy",
    "oms.middleware.DatabaseUnavailable",
]
# Scripts from our own static files only (htmx, the dashboard's and the API docs' scripts), no inline
# script; e-mail previews are sandboxed srcdoc frames, so they need no frame source of their own.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'self'; object-src 'none'",
)
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# Request bodies up to this size (a stock batch of 50,000 rows fits); larger ones are refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

ROOT_URLCONF = "oms.urls"
WSGI_APPLICATION = "oms.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oms.dashboard.navigation",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'oms.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A web process and a worker write at once in the embedded mode: WAL lets readers go on while one
    # writes, IMMEDIATE takes the write lock at BEGIN (no lock upgrade deadlock), the busy timeout
    # waits instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "kpis:home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["orders.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["orders.api.auth.IsApiClient"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["oms.api.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "oms.api.negotiation.RememberingContentNegotiation",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "oms.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "oms.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["oms.api.throttling.ApiKeyRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OMS API",
    "DESCRIPTION": (
        "The order management system's API for sales channels (orders) and integrations "
        "(catalog, inventory). Authenticate with `Authorization: Bearer <key>`. Every POST that "
        "creates something accepts an `Idempotency-Key` header. Errors always have the shape "
        '`{"error": {"code": ..., "message": ..., "details": ...}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Served from our own static files: the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "oms.api.schema.postprocess"],
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "HoldReasonEnum": "orders.models.HoldReason",
        "CreditMethodEnum": "returns.models.CreditMethod",
        "ReturnStatusEnum": "returns.models.ReturnStatus",
    },
}

REDIS_URL = os.environ.get("REDIS_URL", "")
# Without Redis, Celery moves messages through files under var/: no broker to install, and the web
# process and the worker still run apart, as they do in production.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        # The transport's exchange tables; without this it writes ./control wherever it starts.
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    # A message a worker took and never acknowledged (killed mid-task) comes back only after the
    # visibility timeout; the outbox sends its event again long before (OUTBOX_REDELIVER_SECONDS).
    # Publishing never retries: a request must not wait for a broker that is down, and what was not
    # published stays in the outbox for the sweep.
    else {"visibility_timeout": 3600, "max_retries": 0, "socket_connect_timeout": 1}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    for folder in ("broker", "broker-processed", "broker-control"):
        (VAR_DIR / folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Celery's Django fixup closes the database connection before and after every task unless told to
# reuse it: a new PostgreSQL session per task, which profiling the message sender showed costing more
# than the task's own work. Connections are kept instead, and oms.celery closes the ones Django would
# (past CONN_MAX_AGE, or broken) before and after each task.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TIMEZONE = TIME_ZONE
# How often beat sweeps the outbox, and how long a handler may take to finish an event before the sweep
# sends it again (doubling for each further attempt, up to an hour): together the bound on how long a
# worker killed mid-task can delay an event.
OUTBOX_SWEEP_SECONDS = float(os.environ.get("OUTBOX_SWEEP_SECONDS", "15"))
OUTBOX_REDELIVER_SECONDS = float(os.environ.get("OUTBOX_REDELIVER_SECONDS", "45"))
# Whether a commit that emitted events kicks the relay. Off, the events wait for whoever publishes the
# outbox next: the sweep, or a driver that publishes after each of its steps (the simulated merchant
# does, so that a step's events go out together, as under load where a kick window gathers them).
OUTBOX_KICK_ON_COMMIT = os.environ.get("OUTBOX_KICK_ON_COMMIT", "1") != "0"

# With Redis, the cache is shared by every process, so entries can be invalidated everywhere at once.
CACHES = {
    "default": (
        {"BACKEND": "oms.cache.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "oms"}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# API keys are looked up on every call; each process keeps the keys it saw, in front of the shared
# cache. Revoking a key or disabling a channel clears both at once, in every process (ADR 0009); the
# lifetime only bounds what a missed clear could cost. Without Redis (embedded mode) every call reads
# the database.
API_KEY_CACHE_SECONDS = int(os.environ.get("API_KEY_CACHE_SECONDS", "60" if REDIS_URL else "0"))
# Calls a minute per API key unless the key has a limit of its own (admin); 0: no limit. A flash sale
# from one channel is about 200 orders a second at most on two cores: the default leaves it room.
API_RATE_LIMIT_PER_MINUTE = int(os.environ.get("API_RATE_LIMIT_PER_MINUTE", "20000"))
# Sign-in throttling (dashboard and admin): wrong passwords per user name, and per address (an office
# behind one proxy shares it), within the window (oms.login_throttle).
LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))
LOGIN_MAX_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_MAX_FAILURES_PER_ADDRESS", "30"))
LOGIN_LOCKOUT_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_SECONDS", "900"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The file-system transport has no host; kombu says so on every connection.
        "kombu.connection": {"level": "ERROR"},
    },
}

# Route every received order automatically (the order.received event); off, ops route by hand.
ROUTING_ON_RECEIPT = env_bool("ROUTING_ON_RECEIPT", True)
# An order still received (not routed) this long after it arrived shows in the routing exceptions queue.
ROUTING_OVERDUE_MINUTES = float(os.environ.get("ROUTING_OVERDUE_MINUTES", "5"))

# Customer messages. E-mail goes through Django's e-mail backend: SMTP when EMAIL_HOST is set, a
# provider through django-anymail (EMAIL_BACKEND=anymail.backends.mailgun.EmailBackend and its
# ANYMAIL_* keys), and in the embedded default into files under var/mail (the dashboard's Messages
# page shows every message as sent either way).
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "orders@oms.example")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
EMAIL_TIMEOUT = 15
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
ANYMAIL = {
    key: value
    for key, value in {
        "MAILGUN_API_KEY": os.environ.get("ANYMAIL_MAILGUN_API_KEY", ""),
        "MAILGUN_SENDER_DOMAIN": os.environ.get("ANYMAIL_MAILGUN_SENDER_DOMAIN", ""),
        "MAILGUN_API_URL": os.environ.get("ANYMAIL_MAILGUN_API_URL", "https://api.mailgun.net/v3"),
        # Mailgun signs its webhooks with this key; anymail refuses an unsigned or forged one.
        "MAILGUN_WEBHOOK_SIGNING_KEY": os.environ.get("ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY", ""),
        # Basic-auth credentials ("user:password") the provider's webhook URL must carry.
        "WEBHOOK_SECRET": os.environ.get("ANYMAIL_WEBHOOK_SECRET", ""),
    }.items()
    if value
}
# SMS: notifications.backends.TwilioSmsBackend (with the TWILIO_* keys) or the demo's log.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "notifications.backends.LogSmsBackend")
SMS_DEFAULT_SENDER = os.environ.get("SMS_DEFAULT_SENDER", "OMS")
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_STATUS_CALLBACK = os.environ.get("TWILIO_STATUS_CALLBACK", "")
# Events that arrive together for one order (shipped and out for delivery in one poll) wait this long,
# so that the customer gets the latest state once.
NOTIFICATION_DEBOUNCE_SECONDS = float(os.environ.get("NOTIFICATION_DEBOUNCE_SECONDS", "5"))
# A temporary failure is tried again after this, doubling per attempt; after the last attempt the
# message is failed and shows on its order's page.
NOTIFICATION_RETRY_SECONDS = float(os.environ.get("NOTIFICATION_RETRY_SECONDS", "60"))
NOTIFICATION_MAX_ATTEMPTS = int(os.environ.get("NOTIFICATION_MAX_ATTEMPTS", "8"))
# How often beat looks for messages that are due and were not sent (a lost task, a worker killed
# mid-send, quiet hours that ended); a message is picked up once it is half this late.
NOTIFICATION_SWEEP_SECONDS = float(os.environ.get("NOTIFICATION_SWEEP_SECONDS", "60"))
# How often beat processes carrier webhooks stored but still pending (the broker was down when they
# came, the worker that had them died); a call is taken once it has waited this long.
TRACKING_WEBHOOK_SWEEP_SECONDS = float(os.environ.get("TRACKING_WEBHOOK_SWEEP_SECONDS", "60"))

# Reorder evaluation: movements of a SKU within this many seconds make one evaluation of its positions;
# every position is evaluated this often as well.
REPLENISHMENT_DEBOUNCE_SECONDS = float(os.environ.get("REPLENISHMENT_DEBOUNCE_SECONDS", "5"))
REPLENISHMENT_EVALUATE_MINUTES = float(os.environ.get("REPLENISHMENT_EVALUATE_MINUTES", "15"))
# Suggested reorder values: daily demand over this many days, and the share of replenishment cycles
# that should not run out (the service level; 0.95 -> z = 1.645).
REPLENISHMENT_DEMAND_WINDOW_DAYS = int(os.environ.get("REPLENISHMENT_DEMAND_WINDOW_DAYS", "56"))
REPLENISHMENT_SERVICE_LEVEL = float(os.environ.get("REPLENISHMENT_SERVICE_LEVEL", "0.95"))
# The sender of purchase orders e-mailed to suppliers.
REPLENISHMENT_PURCHASING_FROM = os.environ.get("REPLENISHMENT_PURCHASING_FROM", DEFAULT_FROM_EMAIL)
# Who hears of a KPI crossing its threshold, and of its recovery (comma-separated e-mail addresses).
KPI_ALERT_RECIPIENTS = [a.strip() for a in os.environ.get("KPI_ALERT_RECIPIENTS", "").split(",") if a.strip()]
# Outbound webhooks: how often events are fanned out and due deliveries sent, how many tries a
# delivery gets (backing off from 30 s to 6 h), and after how many failures in a row an endpoint is
# disabled (ops see a banner and enable it again in admin).
WEBHOOK_SWEEP_SECONDS = float(os.environ.get("WEBHOOK_SWEEP_SECONDS", "5"))
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "15"))
WEBHOOK_DISABLE_AFTER = int(os.environ.get("WEBHOOK_DISABLE_AFTER", "50"))
# Who hears that an endpoint was disabled (comma-separated; the KPI list when not set).
WEBHOOK_ALERT_RECIPIENTS = [
    a.strip() for a in os.environ.get("WEBHOOK_ALERT_RECIPIENTS", "").split(",") if a.strip()
] or KPI_ALERT_RECIPIENTS
# How often connected shops are told what they may sell (only the SKUs whose figure changed).
SHOP_STOCK_PUSH_SECONDS = float(os.environ.get("SHOP_STOCK_PUSH_SECONDS", "60"))
# How often the histories are folded into the KPI figures (and the thresholds checked).
KPI_FOLD_SECONDS = float(os.environ.get("KPI_FOLD_SECONDS", "60"))

# Dashboard list pages.
DASHBOARD_PAGE_SIZE = 50
