"""Django settings. Everything that differs between a demo and production comes from the environment.

Environment variables:
  YIKATONG_HOME        folder for the embedded database, keys, uploads and logs (default: ./var)
  DATABASE_URL         postgresql://user:pass@host:port/name ; unset = embedded SQLite under YIKATONG_HOME
  SECRET_KEY           Django secret; default: a key file under YIKATONG_HOME created on first run
  YIKATONG_DEBUG       "1" for debug pages (never in production)
  YIKATONG_TODAY       fixed "today" (YYYY-MM-DD) for demos and tests, see yikatong.core.clock
  YIKATONG_ALLOWED_HOSTS  comma-separated host names
  YIKATONG_DATA_KEY / YIKATONG_DIGEST_KEY  personal-data keys, see docs/operations.md
"""

import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

from yikatong.core.keyfiles import read_or_create_secret

BASE_DIR = Path(__file__).resolve().parent
HOME = Path(os.environ.get("YIKATONG_HOME", Path.cwd() / "var")).resolve()
HOME.mkdir(parents=True, exist_ok=True)

DEBUG = os.environ.get("YIKATONG_DEBUG", "") == "1"
SECRET_KEY = os.environ.get("SECRET_KEY") or read_or_create_secret(HOME / "keys" / "django_secret.key")
ALLOWED_HOSTS = [h for h in os.environ.get("YIKATONG_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
ALLOWED_HOSTS += ["testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "ninja",
    "yikatong.core",
    "yikatong.policies",
    "yikatong.registry",
    "yikatong.applications",
    "yikatong.checks",
    "yikatong.payments",
    "yikatong.banks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "yikatong.core.middleware.RequestContextMiddleware",
    "yikatong.core.middleware.FriendlyErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "yikatong.urls"
WSGI_APPLICATION = "yikatong.wsgi.application"

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
                "yikatong.core.context_processors.navigation",
            ],
        },
    }
]


def database_from_url(url: str) -> dict:
    """Parse DATABASE_URL (postgresql://user:pass@host:port/name) into a Django DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL: unsupported scheme {parsed.scheme!r}; use postgresql://")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "yikatong",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"NAME": "test_" + (unquote(parsed.path.lstrip("/")) or "yikatong")},
    }


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": HOME / "yikatong.sqlite3",
            "OPTIONS": {
                # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock up front
                # so two writers queue instead of failing with "database is locked" on upgrade.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"

# Sessions end after 30 minutes without activity and when the browser closes.
SESSION_COOKIE_AGE = int(os.environ.get("YIKATONG_SESSION_SECONDS", 30 * 60))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
CSRF_FAILURE_VIEW = "yikatong.core.views.errors.csrf_failure"

# Login lockout (django-axes): 5 failures lock the account name for 30 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("YIKATONG_LOCKOUT_FAILURES", 5))
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_VERBOSE = False
# Lock by account, not by address: a whole township office sits behind one intranet address.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

LANGUAGE_CODE = "zh-hans"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = HOME / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = HOME / "files"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

TASKS = {
    "default": {
        "BACKEND": os.environ.get("YIKATONG_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# yikatong's own settings
YIKATONG_TODAY = os.environ.get("YIKATONG_TODAY", "")
YIKATONG_KEY_DIR = HOME / "keys"
YIKATONG_DATA_KEY = os.environ.get("YIKATONG_DATA_KEY", "")
YIKATONG_DIGEST_KEY = os.environ.get("YIKATONG_DIGEST_KEY", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"yikatong": {"level": os.environ.get("YIKATONG_LOG_LEVEL", "INFO")}},
}

# SMS to beneficiaries (payments.sms): "file" (default: var/sms/outbox.jsonl), "console", or "http" with
# YIKATONG_SMS_URL (+ YIKATONG_SMS_TOKEN) for the province's SMS gateway.
YIKATONG_SMS_SENDER = os.environ.get("YIKATONG_SMS_SENDER", "file")
YIKATONG_SMS_URL = os.environ.get("YIKATONG_SMS_URL", "")
YIKATONG_SMS_TOKEN = os.environ.get("YIKATONG_SMS_TOKEN", "")

# The cache holds rate-limit counters (online applications, bank API) that every web process and the task
# worker must share: a file cache under YIKATONG_HOME does that on one host without another service.
# YIKATONG_CACHE=locmem keeps it per process (the test suite, which must not inherit counters between runs).
_CACHE = os.environ.get("YIKATONG_CACHE", "locmem" if "pytest" in sys.modules else "file")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        if _CACHE == "locmem"
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(HOME / "cache"),
              "OPTIONS": {"MAX_ENTRIES": 100000}}
    )
}
