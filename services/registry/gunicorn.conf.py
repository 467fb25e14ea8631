"""gunicorn settings for registry; worker counts and port come from the REGISTRY_* environment."""

import os

bind = f"{os.environ.get('REGISTRY_BIND', '127.0.0.1')}:{os.environ.get('REGISTRY_PORT', '8181')}"
workers = int(os.environ.get("REGISTRY_WORKERS", "2"))
threads = int(os.environ.get("REGISTRY_THREADS", "8"))
worker_class = "gthread"
preload_app = True
timeout = 0  # requests stream blobs for as long as they take; gthread workers heartbeat anyway
graceful_timeout = 30
keepalive = 75
# Two gunicorns on one machine (core, registry) would share ~/.gunicorn/gunicorn.ctl.
control_socket_disable = True
accesslog = None  # nginx logs every request; the app logs its writes and errors (berth_common.web)
# Requests are parsed by gunicorn-h1c (C) when it is installed, as the registry's package requires.
http_parser = "auto"
wsgi_app = "berth_registry.wsgi:app"


def worker_exit(server, worker):
    """Write the pull events a stopping worker still buffers (atexit would too; this is explicit)."""
    app = getattr(worker, "wsgi", None)
    pulls = getattr(app, "extensions", {}).get("berth.pulls")
    if pulls is not None:
        pulls.close()
