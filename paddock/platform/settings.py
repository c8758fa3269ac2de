"""Django settings for paddock, read from the environment.

Two environments: ``development`` (the default; everything local, SQLite under ``var/``,
a generated secret key) and ``production`` (``PADDOCK_ENV=production``: SECRET_KEY and
ALLOWED_HOSTS required, HTTPS-only cookies, HSTS; ``manage.py check --deploy`` is clean).
The README's configuration table lists every variable read here.
"""

from __future__ import annotations

from pathlib import Path

from redis.backoff import NoBackoff
from redis.retry import Retry

from paddock.kernel.limits import LimitSettingError, read_limits
from paddock.platform.config import (
    DEFAULT_REDIS_URL,
    ConfigurationError,
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_rate,
    env_str,
    environment,
    secret_key,
    validate_redis_url,
)
from paddock.workers.queues import Queue, kombu_queues

PLATFORM_DIR = Path(__file__).resolve().parent
BASE_DIR = PLATFORM_DIR.parents[1]  # the checkout; only the default var/ lives under it

PADDOCK_ENV = environment()
PRODUCTION = PADDOCK_ENV == "production"

VAR_DIR = Path(env_str("PADDOCK_VAR_DIR", str(BASE_DIR / "var"))).resolve()
# Datasets, checkpoints and exports: shared storage (NFS, a mounted bucket) when web and
# workers run on different machines, since tasks pass paths, never file contents.
ARTIFACTS_DIR = Path(env_str("PADDOCK_ARTIFACTS_DIR", str(VAR_DIR / "artifacts"))).resolve()
# Curation's documents and their measurements, as Parquet shards: an fsspec URL or a path
# (s3://, gs:// with their fsspec packages), never PostgreSQL (issue 19).
CURATION_STORE = env_str("PADDOCK_CURATION_STORE", str(ARTIFACTS_DIR / "curation" / "store"))
# Past this many documents in a run, near dedup's LSH band records go to files under the
# run's work folder instead of Redis (about 12 bytes per band per document in Redis).
CURATION_REDIS_BANDS_MAX_DOCUMENTS = env_int("PADDOCK_CURATION_REDIS_BANDS_MAX_DOCUMENTS",
                                             2_000_000)

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ConfigurationError(
        "DEBUG=true with PADDOCK_ENV=production would show tracebacks and settings to "
        "anyone: unset DEBUG."
    )
SECRET_KEY = secret_key(production=PRODUCTION, var_dir=VAR_DIR)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ConfigurationError(
        "ALLOWED_HOSTS is not set and PADDOCK_ENV=production: set it to the host names the "
        "site is served under, comma-separated (e.g. paddock.example.org)."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "paddock.platform.errors.csrf_failure"

INSTALLED_APPS = [
    "paddock.platform.apps.PaddockAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here: the API page needs no CDN
    "paddock.platform.accounts",
    "paddock.platform.health",
    "paddock.curation",
    "paddock.console",
    "paddock.workers",
    "paddock.annotation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Every error under /api/ answers JSON, those Django writes itself included (413 for a
    # body over DATA_UPLOAD_MAX_MEMORY_SIZE).
    "paddock.platform.errors.ApiJsonErrors",
    # Production serves static files from STATIC_ROOT (collectstatic); runserver serves
    # them itself in development.
    *(["whitenoise.middleware.WhiteNoiseMiddleware"] if PRODUCTION else []),
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "paddock.platform.urls"
WSGI_APPLICATION = "paddock.platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PLATFORM_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'paddock.sqlite3'}"),
        sqlite_test_name=VAR_DIR / "test-paddock.sqlite3",
    )
}
# The annotation serving path runs its SQL as named prepared statements on PostgreSQL
# (paddock.platform.prepared); false behind a pooler in transaction mode (PgBouncer).
PADDOCK_DB_PREPARED_STATEMENTS = env_bool("PADDOCK_DB_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [PLATFORM_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- REST API -----------------------------------------------------------------------
REST_FRAMEWORK = {
    # Session for the browser (with CSRF), tokens for scripts and workers.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "paddock.platform.accounts.authentication.FastTokenAuthentication",  # first: 401
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "paddock.platform.api_parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "paddock API",
    "DESCRIPTION": "Pairwise preference annotation: next comparison, submit, skip, batches, "
    "import, export, stats.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema maps every endpoint, the managers' included: data managers and admins
    # only (and their API tokens); annotators get 403, anonymous callers 401.
    "SERVE_PERMISSIONS": ["paddock.platform.accounts.access.IsStaff"],
    # /api/docs/ (Swagger UI) loads its JavaScript, CSS and icon from our own static files
    # (drf-spectacular-sidecar), so it works offline and under a no-CDN policy.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Log-in throttling and API tokens (paddock.platform.accounts; SECURITY.md) ------
# Failures allowed in a window: one username from one client IP; one client IP for any
# usernames; one username from every address together (guessing spread over many).
PADDOCK_LOGIN_ATTEMPTS = env_int("PADDOCK_LOGIN_ATTEMPTS", 5)
PADDOCK_LOGIN_IP_ATTEMPTS = env_int("PADDOCK_LOGIN_IP_ATTEMPTS", PADDOCK_LOGIN_ATTEMPTS)
PADDOCK_LOGIN_ACCOUNT_ATTEMPTS = env_int("PADDOCK_LOGIN_ACCOUNT_ATTEMPTS",
                                         4 * PADDOCK_LOGIN_ATTEMPTS)
PADDOCK_LOGIN_WINDOW_SECONDS = env_int("PADDOCK_LOGIN_WINDOW_SECONDS", 300)
# Whose X-Forwarded-For is believed for the client IP: proxies by address or network,
# and/or how many stand in front of the site. Default: nobody (REMOTE_ADDR).
PADDOCK_TRUSTED_PROXIES = env_networks("PADDOCK_TRUSTED_PROXIES")
PADDOCK_PROXY_HOPS = env_int("PADDOCK_PROXY_HOPS", 0)
for _name in ("PADDOCK_LOGIN_ATTEMPTS", "PADDOCK_LOGIN_IP_ATTEMPTS",
              "PADDOCK_LOGIN_ACCOUNT_ATTEMPTS", "PADDOCK_LOGIN_WINDOW_SECONDS"):
    if globals()[_name] < 1:
        raise ConfigurationError(f"{_name}={globals()[_name]} must be at least 1.")
if PADDOCK_PROXY_HOPS < 0:
    raise ConfigurationError(f"PADDOCK_PROXY_HOPS={PADDOCK_PROXY_HOPS} must be 0 or more.")
# Seconds an API token is accepted after it was made (or rotated by a password change);
# unset: until deleted.
PADDOCK_TOKEN_TTL = env_int("PADDOCK_TOKEN_TTL", 0) or None
if PADDOCK_TOKEN_TTL is not None and PADDOCK_TOKEN_TTL < 0:
    raise ConfigurationError(f"PADDOCK_TOKEN_TTL={PADDOCK_TOKEN_TTL} must be a number of "
                             "seconds above 0, or unset.")
# Who a token or session belongs to is kept in each web process for at most this many
# seconds (paddock.platform.accounts.principal_cache), checked against an epoch in Redis on
# every request, so a revoked token, a deactivated user or a password change is honoured at
# once in every process; 0 turns the cache off (every request asks the database).
PADDOCK_AUTH_CACHE_SECONDS = env_int("PADDOCK_AUTH_CACHE_SECONDS", 60)
if PADDOCK_AUTH_CACHE_SECONDS < 0:
    raise ConfigurationError(f"PADDOCK_AUTH_CACHE_SECONDS={PADDOCK_AUTH_CACHE_SECONDS} must "
                             "be 0 (no cache) or a number of seconds.")
# The session user's row comes from that cache; sessions are read from Redis (the default
# cache below) and written through to the database, so a Redis restart logs nobody out and
# an unreachable Redis leaves sessions read from the database (accounts/sessions.py).
AUTHENTICATION_BACKENDS = ["paddock.platform.accounts.backends.CachedModelBackend"]
SESSION_ENGINE = "paddock.platform.accounts.sessions"

# --- Bounds on reading input files (paddock.kernel.limits) -------------------------------
# PADDOCK_MAX_RECORD_BYTES, PADDOCK_MAX_HTTP_BODY_BYTES, PADDOCK_MAX_FILE_DECOMPRESSED_BYTES
# and PADDOCK_MAX_PROBLEMS_IN_A_ROW. The readers read them where they run (the curation
# core and the trainers have no Django); here a wrong value stops start-up with one line.
try:
    READ_LIMITS = read_limits()
except LimitSettingError as error:
    raise ConfigurationError(str(error)) from None

# Where data managers may ingest curation sources from (paddock.curation.services.
# ingest_paths): comma-separated folders; nothing outside them, nor /proc, /sys or /dev.
INGEST_ROOTS = [
    Path(root).resolve()
    for root in env_list("PADDOCK_INGEST_ROOTS", [str(ARTIFACTS_DIR / "incoming")])
]

# --- Annotation -----------------------------------------------------------------------
PADDOCK_LEASE_MINUTES = env_int("PADDOCK_LEASE_MINUTES", 30)  # a lease then returns to the pool
# Comparisons one annotator may hold at once (own prompts included): 2 lets the workspace
# hold the next comparison ready while the annotator reads the one on screen.
PADDOCK_MAX_OPEN_LEASES = env_int("PADDOCK_MAX_OPEN_LEASES", 2)  # per annotator
# Written prompts and next turns (SECURITY.md, "Quotas on written prompts"): the longest
# message, in characters, and how many one annotator may send for sampling (N/period).
PADDOCK_PROMPT_MAX_CHARS = env_int("PADDOCK_PROMPT_MAX_CHARS", 20_000)
if PADDOCK_PROMPT_MAX_CHARS < 1:
    raise ConfigurationError(
        f"PADDOCK_PROMPT_MAX_CHARS={PADDOCK_PROMPT_MAX_CHARS} must be at least 1.")
PADDOCK_PROMPT_RATE = env_rate("PADDOCK_PROMPT_RATE", "30/hour")
# Exports name annotators by an HMAC of their id; keep this key to keep pseudonyms stable
# across exports (it defaults to SECRET_KEY, so rotating that changes them).
PADDOCK_PSEUDONYM_KEY = env_str("PADDOCK_PSEUDONYM_KEY", "")
# What samples the two responses of a written prompt, on the generation workers: a dotted
# path to a ResponseGenerator class (paddock.annotation.generation). By default the policy
# versions in the model registry answer (SmolLM2 until the loop trains a newer one). The
# stand-in writes labelled placeholder text: a test double, refused in production, and
# judgements on its text are never exported as training data.
PADDOCK_RESPONSE_GENERATOR = env_str(
    "PADDOCK_RESPONSE_GENERATOR", "paddock.workers.generation.PolicyGenerator"
)
STAND_IN_GENERATORS = ("StandInGenerator",)
if PRODUCTION and PADDOCK_RESPONSE_GENERATOR.rsplit(".", 1)[-1] in STAND_IN_GENERATORS:
    raise ConfigurationError(
        f"PADDOCK_RESPONSE_GENERATOR={PADDOCK_RESPONSE_GENERATOR!r} writes placeholder text, "
        "not model answers: production refuses it. Unset it (the registered policies answer).")
# Tiny random checkpoints (paddock.training.tiny) exist for fast tests; nothing serves their
# text to annotators unless this is on (the test settings turn it on).
PADDOCK_ALLOW_TINY_MODELS = env_bool("PADDOCK_ALLOW_TINY_MODELS", False)

# --- The weekly pipeline (paddock.workers.pipeline) -----------------------------------
# Every model version the loop trains, numbered, with its lineage (paddock.kernel.registry).
MODEL_REGISTRY_DIR = Path(env_str("PADDOCK_MODEL_REGISTRY_DIR", str(ARTIFACTS_DIR / "models")))
# Checkpoints the loop starts from: the reward models' base, and the first policy.
PADDOCK_REWARD_BASE_MODEL = env_str(
    "PADDOCK_REWARD_BASE_MODEL", str(ARTIFACTS_DIR / "base" / "reward-base"))
PADDOCK_POLICY_BASE_MODEL = env_str(
    "PADDOCK_POLICY_BASE_MODEL", str(ARTIFACTS_DIR / "base" / "policy-base"))
# A running step beats every HEARTBEAT seconds; one silent for STALE_AFTER lost its worker
# and is re-sent; a step queued for RESEND_AFTER lost its message and is re-sent.
PADDOCK_PIPELINE_HEARTBEAT = env_float("PADDOCK_PIPELINE_HEARTBEAT", 10.0)
PADDOCK_PIPELINE_STALE_AFTER = env_float("PADDOCK_PIPELINE_STALE_AFTER", 120.0)
PADDOCK_PIPELINE_RESEND_AFTER = env_float("PADDOCK_PIPELINE_RESEND_AFTER", 6 * 60 * 60.0)
# Processes a training step starts on this machine (one per GPU the worker owns): above 1,
# reward-model training, SFT, rejection sampling's SFT and PPO run under torchrun (DDP or
# FSDP, paddock.training.engines).
PADDOCK_TRAINING_PROCESSES = env_int("PADDOCK_TRAINING_PROCESSES", 1)
# Machines a training step spans. Above 1, the worker that takes a step asks NODES-1 other
# GPU workers (queue training_group) to join it; they meet at RENDEZVOUS, this worker's
# host:port as the others reach it. Every machine must see the same PADDOCK_VAR_DIR
# (shared storage) and have the same number of GPUs. A join not taken within
# JOIN_SECONDS expires.
PADDOCK_TRAINING_NODES = env_int("PADDOCK_TRAINING_NODES", 1)
# The engine those steps train under: auto (DDP where the model's training state fits a GPU,
# FSDP where it does not), ddp or fsdp (paddock.training.engines).
PADDOCK_TRAINING_PARALLELISM = env_choice(
    "PADDOCK_TRAINING_PARALLELISM", "auto", ("auto", "ddp", "fsdp"))
PADDOCK_TRAINING_RENDEZVOUS = env_str("PADDOCK_TRAINING_RENDEZVOUS", "")
PADDOCK_TRAINING_JOIN_SECONDS = env_int("PADDOCK_TRAINING_JOIN_SECONDS", 600)

# --- Production hardening (checked by `manage.py check --deploy`) ---------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("PADDOCK_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_int("PADDOCK_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Behind a TLS-terminating proxy (nginx, a load balancer) that sets X-Forwarded-Proto.
    if env_bool("PADDOCK_BEHIND_PROXY", default=True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # /healthz is probed over plain HTTP by load balancers inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Celery (read by paddock.platform.celery through the CELERY_ namespace) ------------
REDIS_URL = validate_redis_url(env_str("REDIS_URL", DEFAULT_REDIS_URL))
# A key prefix lets several paddock installations (or test sessions) share one Redis.
REDIS_KEY_PREFIX = env_str("PADDOCK_REDIS_KEY_PREFIX", "")

# One cache for all web processes and hosts (login throttling counts attempts here: a
# per-process cache would give each gunicorn worker its own count).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{REDIS_KEY_PREFIX}cache",
        "TIMEOUT": 300,
        # Sessions are read through this cache on every request: an unreachable Redis must
        # fail in milliseconds (sessions then come from the database), not after redis-py's
        # default ten retries with back-off.
        "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0,
                    "retry": Retry(NoBackoff(), 1)},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # With Redis, a message that was delivered but not acknowledged comes back after this
    # many seconds. Tasks acknowledged late (the idempotent ones) can run for hours on a
    # GPU, so the timeout must exceed the longest step, or a second worker would start
    # the same step while the first is still running. Idempotent steps guard against
    # that anyway (a unique run row); this keeps it rare.
    "visibility_timeout": env_int("PADDOCK_BROKER_VISIBILITY_TIMEOUT", 12 * 60 * 60),
    **({"global_keyprefix": REDIS_KEY_PREFIX} if REDIS_KEY_PREFIX else {}),
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = (
    {"global_keyprefix": REDIS_KEY_PREFIX} if REDIS_KEY_PREFIX else {}
)
CELERY_RESULT_EXPIRES = 24 * 60 * 60  # durable outcomes live in the Job table, not here
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = Queue.DEFAULT.value
CELERY_TASK_QUEUES = kombu_queues()
# A queue that is not declared above is a typo, never a reason to create a new queue
# that no worker listens to.
CELERY_TASK_CREATE_MISSING_QUEUES = False
CELERY_TASK_ROUTES = ("paddock.workers.routing.route_task",)
CELERY_TASK_TRACK_STARTED = True
CELERY_RESULT_EXTENDED = True  # results keep the task name and arguments, for error reports
# A failing task inside a chord's header calls the canvas's error callback (Celery's
# announced future default), so a failed shard marks its curation run failed at once.
CELERY_TASK_ALLOW_ERROR_CB_ON_CHORD_HEADER = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# How long /healthz waits for workers to answer a ping.
PADDOCK_WORKER_PING_TIMEOUT = env_float("PADDOCK_WORKER_PING_TIMEOUT", 1.0)
