"""gunicorn settings for core; worker counts and port come from the CORE_* environment."""

import os

bind = f"{os.environ.get('CORE_BIND', '127.0.0.1')}:{os.environ.get('CORE_PORT', '8180')}"
workers = int(os.environ.get("CORE_WORKERS", "2"))
threads = int(os.environ.get("CORE_THREADS", "8"))
worker_class = "gthread"
preload_app = True
timeout = 120
graceful_timeout = 30
keepalive = 75
# Two gunicorns on one machine (core, registry) would share ~/.gunicorn/gunicorn.ctl.
control_socket_disable = True
accesslog = None  # the app logs one JSON line per request
wsgi_app = "berth_core.wsgi:app"
