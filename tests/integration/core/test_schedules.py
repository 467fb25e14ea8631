"""``/api/v2.0/schedules`` and ``/schedules/{job_type}/paused`` through core: every schedule of the
jobservice as Harbor's ScheduleTask, paging, the scheduler's pause flag; system admins only."""

from __future__ import annotations

import pytest

from berth_jobservice.jobs import default_registry
from berth_jobservice.services import schedules as schedule_service
from berth_jobservice.settings import JobserviceSettings
from support.content import ROLES, CoreWorld

REGISTRY = default_registry(JobserviceSettings(database_url="", rabbitmq_url=""))
PURGE = {"audit_retention_hour": 168, "include_operations": "pull", "dry_run": False}


def save(world: CoreWorld, vendor_type: str, *, cron: str | None = None, interval: int | None = None, vendor_id: int = -1):
    return schedule_service.save(
        world.db,
        REGISTRY,
        vendor_type=vendor_type,
        vendor_id=vendor_id,
        callback_job_type="PURGE_AUDIT_LOG",
        callback_params=PURGE,
        cron=cron,
        interval_seconds=interval,
    )


def test_list_schedules_as_harbor_does(world) -> None:
    hourly = save(world, "PURGE_AUDIT_LOG", cron="0 0 * * * *")
    interval = save(world, "PURGE_UPLOAD", interval=86400)
    response = world.client.get("/api/v2.0/schedules", headers=world.headers("admin"))
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    listed = response.get_json()
    assert [s["id"] for s in listed] == [hourly.id, interval.id]
    assert set(listed[0]) == {"id", "vendor_type", "vendor_id", "cron", "update_time"}
    assert (listed[0]["vendor_type"], listed[0]["vendor_id"], listed[0]["cron"]) == ("PURGE_AUDIT_LOG", -1, "0 0 * * * *")
    assert listed[1]["cron"] == "@every 86400s"
    assert listed[0]["update_time"].endswith("Z")


def test_paging(world) -> None:
    for vendor_id in range(1, 6):
        save(world, "RETENTION_PROBE", cron="0 0 0 * * *", vendor_id=vendor_id)
    response = world.client.get("/api/v2.0/schedules?page=2&page_size=2", headers=world.headers("admin"))
    assert response.headers["X-Total-Count"] == "5"
    assert [s["vendor_id"] for s in response.get_json()] == [3, 4]
    assert 'rel="prev"' in response.headers["Link"] and 'rel="next"' in response.headers["Link"]
    for query in ("page=0", "page_size=101", "page=x", "q=vendor_type=X", "sort=id"):
        bad = world.client.get(f"/api/v2.0/schedules?{query}", headers=world.headers("admin"))
        assert bad.status_code == 400, query
        assert bad.get_json()["errors"][0]["code"] == "BAD_REQUEST"


def test_scheduler_paused_follows_the_scheduler_queue(world) -> None:
    admin = world.headers("admin")
    assert world.client.get("/api/v2.0/schedules/all/paused", headers=admin).get_json() == {"paused": False}
    assert world.client.put("/api/v2.0/jobservice/queues/SCHEDULER", json={"action": "pause"}, headers=admin).status_code == 200
    assert world.client.get("/api/v2.0/schedules/ALL/paused", headers=admin).get_json() == {"paused": True}
    assert world.client.put("/api/v2.0/jobservice/queues/scheduler", json={"action": "resume"}, headers=admin).status_code == 200
    assert world.client.get("/api/v2.0/schedules/all/paused", headers=admin).get_json() == {"paused": False}
    response = world.client.get("/api/v2.0/schedules/WEBHOOK/paused", headers=admin)
    assert response.status_code == 400 and "'all'" in response.get_json()["errors"][0]["message"]


@pytest.mark.parametrize("who", ROLES)
def test_only_system_admins(world, who: str) -> None:
    expected = 200 if who == "admin" else 401 if who == "anonymous" else 403
    for path in ("/api/v2.0/schedules", "/api/v2.0/schedules/all/paused"):
        assert world.client.get(path, headers=world.headers(who)).status_code == expected, path
