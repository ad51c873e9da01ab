"""Settings for the portal, read from environment variables.

With nothing set the portal runs on an SQLite file inside the project, executes Celery
tasks eagerly and reads public S3 buckets anonymously, so a fresh clone works without
any service. ``DATABASE_URL``, ``CELERY_BROKER_URL``, ``REDIS_URL`` and boto3's own
``AWS_*`` variables switch to real services. ``PORTAL_PRODUCTION=true`` turns on the
production hardening and refuses to start without ``SECRET_KEY`` and ``ALLOWED_HOSTS``.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

PRODUCTION = env.bool("PORTAL_PRODUCTION", default=False)
DEBUG = env.bool("DEBUG", default=False)

if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when PORTAL_PRODUCTION is set.")
    SECRET_KEY = env.str("SECRET_KEY", default="")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("Production needs SECRET_KEY (at least 50 characters).")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("Production needs ALLOWED_HOSTS (comma-separated).")
else:
    # A fixed key is fine for a local, non-production instance and keeps sessions stable.
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-development-key-not-for-production-use")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "catalog.api.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "catalog",
]

MIDDLEWARE = [
    "portal.security.SecurityHeadersMiddleware",
    "catalog.freshness.CatalogVersionMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "catalog.api.errors.ApiErrorMiddleware",
]

# The benchmark (`make bench`, bench/): a floor view under /bench/ and per-request SQL counts.
PORTAL_BENCH = env.bool("PORTAL_BENCH", default=False)
if env.bool("PORTAL_COUNT_QUERIES", default=False):
    # Inside CatalogVersionMiddleware, whose per-request cache counts it reports.
    MIDDLEWARE.insert(2, "bench.middleware.QueryCountMiddleware")

ROOT_URLCONF = "portal.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "portal.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Persistent connections, checked before each request reuses them: after a PostgreSQL restart (or a
# proxy dropping idle connections) the first request of every worker reconnects instead of failing.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite keeps no useful persistent connections; WAL lets the dev server read while loading.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds rendered pages, API payloads, states and facet counts under the catalog version
# (kept in the database, so every process agrees on it). Production runs several processes, which
# must share one cache: Redis is required there. It is never a dependency of a request: when Redis
# is unreachable, requests are served from the database and the throttles let requests through
# (catalog.freshness.cache_call logs the outage once). Short socket timeouts keep a Redis that
# hangs from holding requests; django-redis's IGNORE_EXCEPTIONS stays off because it answers None
# for a failed get, which the callers could not tell from a cached value.
REDIS_URL = env.str("REDIS_URL", default="")
if PRODUCTION and not REDIS_URL:
    raise ImproperlyConfigured("Production needs REDIS_URL: a cache that every web and worker process shares.")
REDIS_CACHE_OPTIONS = {
    "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.5),
    "SOCKET_TIMEOUT": env.float("REDIS_TIMEOUT", default=1.0),
}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="portal"),
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Seconds to leave a failed cache alone before trying it again (per process).
CACHE_RETRY_SECONDS = env.float("CACHE_RETRY_SECONDS", default=1.0)

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
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# The self-hosted Neuroglancer client, when `make viewer` has built it.
VIEWER_DIST_DIR = BASE_DIR / "viewer" / "dist"
if VIEWER_DIST_DIR.is_dir():
    STATICFILES_DIRS.append(("neuroglancer", VIEWER_DIST_DIR))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production whitenoise serves straight from the finders, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# Thumbnails and other media: local files by default, an S3 bucket when MEDIA_S3_BUCKET is set
# (credentials and endpoint from boto3's standard variables, like ingest).
MEDIA_S3_BUCKET = env.str("MEDIA_S3_BUCKET", default="")
if MEDIA_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "location": env.str("MEDIA_S3_PREFIX", default="media"),
            "querystring_auth": False,
            "file_overwrite": False,
        },
    }

# Celery: with no broker configured, tasks run eagerly in the calling process.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A request that enqueues must learn quickly that the broker is down (it answers 503 and the run
# records it); the sweeper (`sweep_runs`, on the worker's beat) re-sends what was not delivered.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT}

# S3: endpoint and credentials come from boto3's standard variables (AWS_ENDPOINT_URL_S3, ...).
# Buckets (and endpoints) that the API and the tasks may ingest from; the CLI may read any.
INGEST_ALLOWED_BUCKETS = env.list("INGEST_ALLOWED_BUCKETS", default=["janelia-cosem-datasets"])
AWS_ENDPOINT_URL_S3 = env.str("AWS_ENDPOINT_URL_S3", default="")
# Seconds an ingest task may run before it stops (datasets finished so far stay committed).
INGEST_TASK_SOFT_TIME_LIMIT = env.int("INGEST_TASK_SOFT_TIME_LIMIT", default=2 * 60 * 60)
# Conversion to OME-Zarr: the publication bucket and prefix the copies are written to, the local
# folder remote sources are downloaded into (shared by the parts that run on this machine), the
# source bytes one part reads at most, and how long one part task may run.
CONVERSION_OUTPUT_BUCKET = env.str("CONVERSION_OUTPUT_BUCKET", default="")
CONVERSION_OUTPUT_PREFIX = env.str("CONVERSION_OUTPUT_PREFIX", default="converted")
CONVERSION_WORK_DIR = Path(env.str("CONVERSION_WORK_DIR", default=str(BASE_DIR / "conversion-work")))
CONVERSION_PART_BYTES = env.int("CONVERSION_PART_BYTES", default=128 * 1024 * 1024)
CONVERSION_TASK_SOFT_TIME_LIMIT = env.int("CONVERSION_TASK_SOFT_TIME_LIMIT", default=60 * 60)
# Cut-outs (POST /api/cutouts/): zipped OME-Zarr artifacts go to this bucket and prefix (default:
# the conversion output bucket); anonymous requests are capped in uncompressed bytes and rate
# limited per address, staff are not; a presigned link stays valid this many seconds.
CUTOUT_RESULTS_BUCKET = env.str("CUTOUT_RESULTS_BUCKET", default=CONVERSION_OUTPUT_BUCKET)
CUTOUT_RESULTS_PREFIX = env.str("CUTOUT_RESULTS_PREFIX", default="cutouts")
CUTOUT_ANONYMOUS_MAX_BYTES = env.int("CUTOUT_ANONYMOUS_MAX_BYTES", default=256 * 1024 * 1024)
CUTOUT_ANONYMOUS_RATE = env.str("CUTOUT_ANONYMOUS_RATE", default="10/hour")
CUTOUT_LINK_SECONDS = env.int("CUTOUT_LINK_SECONDS", default=24 * 60 * 60)
CUTOUT_TASK_SOFT_TIME_LIMIT = env.int("CUTOUT_TASK_SOFT_TIME_LIMIT", default=60 * 60)

# Background jobs (ingest and conversion runs; catalog.models.jobs). The sweeper (`manage.py
# sweep_runs`, every JOB_SWEEP_SECONDS on the worker's beat) sends a job queued for
# JOB_QUEUED_SECONDS again, at most JOB_MAX_REQUEUES times, then fails it; it fails a job in
# progress without a sign of life for JOB_STALE_SECONDS, which must exceed every task's hard time
# limit (a conversion's parts and finish are each a task, and each is a sign of life).
JOB_QUEUED_SECONDS = env.int("JOB_QUEUED_SECONDS", default=15 * 60)
JOB_MAX_REQUEUES = env.int("JOB_MAX_REQUEUES", default=3)
_LONGEST_TASK_SECONDS = (
    max(INGEST_TASK_SOFT_TIME_LIMIT, CONVERSION_TASK_SOFT_TIME_LIMIT, CUTOUT_TASK_SOFT_TIME_LIMIT) + 120
)
JOB_STALE_SECONDS = env.int("JOB_STALE_SECONDS", default=_LONGEST_TASK_SECONDS - 120 + 30 * 60)
JOB_SWEEP_SECONDS = env.int("JOB_SWEEP_SECONDS", default=5 * 60)
if JOB_STALE_SECONDS <= _LONGEST_TASK_SECONDS:
    raise ImproperlyConfigured("JOB_STALE_SECONDS must exceed the ingest and conversion tasks' hard time limits.")
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {"task": "catalog.sweep_jobs", "schedule": float(JOB_SWEEP_SECONDS)},
}

# Neuroglancer: the self-hosted client under /neuroglancer/ by default, or any public viewer.
NEUROGLANCER_VIEWER_URL = env.str("NEUROGLANCER_VIEWER_URL", default="")
PUBLIC_NEUROGLANCER_VIEWER_URL = "https://neuroglancer-demo.appspot.com/"
# Saved viewer states (short links): size cap per state and saves per client address.
NEUROGLANCER_SAVED_STATE_MAX_BYTES = env.int("NEUROGLANCER_SAVED_STATE_MAX_BYTES", default=1024 * 1024)
NEUROGLANCER_SAVE_RATE = env.str("NEUROGLANCER_SAVE_RATE", default="30/minute")

# Reverse proxies in front of the portal that append the client's address to X-Forwarded-For.
# 0 (the default): the header is ignored and the throttles count REMOTE_ADDR, so a client cannot
# pick its own address; behind one proxy (nginx, a load balancer) set 1.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["catalog.api.throttling.AnonymousRateThrottle"],
    "EXCEPTION_HANDLER": "catalog.api.errors.exception_handler",
    # JSON bodies only: the write payloads are nested manifests that forms cannot carry.
    "DEFAULT_PARSER_CLASSES": ["catalog.api.parsers.CatalogJSONParser"],
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# Requests per period from one anonymous client ("<n>/second|minute|hour|day"); staff are not throttled.
API_ANON_RATE = env.str("API_ANON_RATE", default="600/minute")
API_PAGE_SIZE = 24
API_MAX_PAGE_SIZE = 100
# Text search configuration (stemming language) of the PostgreSQL full-text index.
SEARCH_CONFIG = env.str("SEARCH_CONFIG", default="english")
# How long an entry of the versioned cache (pages, API payloads, states, facets) may live; any
# catalog write makes every entry unreachable at once, whatever this says.
CATALOG_CACHE_SECONDS = env.int("CATALOG_CACHE_SECONDS", default=24 * 3600)
# The same for entries that answer a query string (searches, filter combinations, custom states):
# most are asked once, so they expire soon instead of filling Redis for a day.
CATALOG_QUERY_CACHE_SECONDS = env.int("CATALOG_QUERY_CACHE_SECONDS", default=10 * 60)
# The publisher named in citations and DataCite metadata of the catalog's records.
CITATION_PUBLISHER = env.str("CITATION_PUBLISHER", default="3D Microscopy Catalog")
# The portal's canonical address: citations and linked data name it, never the host a request
# happened to use (a laptop's 127.0.0.1:8011 must not end up in a bibliography).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

SPECTACULAR_SETTINGS = {
    "TITLE": "3D microscopy catalog API",
    "DESCRIPTION": "Datasets, volumes, crops, label classes and curated views of 3D microscopy data in S3.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "VolumeFormatEnum": "catalog.models.base.VolumeFormat",
        "MeshFormatEnum": "catalog.models.base.MeshFormat",
        "VolumeStatusEnum": "catalog.models.base.VolumeStatus",
        "ConversionStatusEnum": "catalog.models.conversion.ConversionStatus",
        "JobStatusEnum": "catalog.models.jobs.JobStatus",
        "ConversionKindEnum": "catalog.api.conversions.CONVERSION_KINDS",
        "VolumeKindEnum": "catalog.models.base.VolumeKind",
    },
    "COMPONENT_SPLIT_REQUEST": True,
    "TAGS": [
        {
            "name": "datasets",
            "description": "Imaged samples. Lists take the shared filters (several values of one filter: any of them); "
            "`q` searches. Per-axis values are objects {x, y, z} in nm. Errors are JSON: "
            "{status, error, detail, errors: [{field, message}]}. Reads are open (anonymous clients are "
            "rate-limited, 429 with Retry-After); curators (staff) write with `Authorization: Token <key>`.",
        },
        {"name": "volumes", "description": "Arrays of data (images, segmentations), with Neuroglancer links."},
        {"name": "crops", "description": "Annotated ground-truth boxes, by number."},
        {"name": "label-classes", "description": "Organelle classes; groups list their members."},
        {"name": "collections", "description": "Curated groups of datasets, with citations."},
        {"name": "states", "description": "Neuroglancer viewer states (CORS, ETag), and saved short links."},
        {"name": "ingest", "description": "Staff only: ingest an allow-listed S3 prefix and follow the run."},
    ],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "catalog.api.schema.openapi_30_hook",
        "catalog.api.schema.server_truth_hook",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
