"""Benchmark: Berth against the reference registry (CNCF distribution), side by side.

``make bench`` (``python -m bench``) starts Berth's whole stack (``berthctl up``, token auth,
through nginx) and Debian's ``docker-registry`` on loopback, runs every scenario N times on both
(fresh repositories each run, the same generated images, the same client tools) and prints the
medians with their ratio and the issue-7 targets. Every run goes to ``bench/results/<time>.json``;
``--update-readme`` rewrites the README's marked section; ``--quick`` is a small smoke run.

Modules: cli (options and sizes), systems (the two registries), scenarios (what a run measures),
tools (skopeo, curl, wrk), images (generated OCI layouts), procs (RSS and CPU from /proc),
figures and stats (targets, medians), report (table, JSON, README), machine (what it ran on).
"""
