"""WEBHOOK: one HTTP POST of an event payload to one target of a webhook policy.

The task parameters hold the policy id, the target address, the format and the Harbor payload;
the policy's secret and auth header are read from the policy when the job runs, so no credential
is copied into task rows (which the API shows). Retries: network errors, timeouts, HTTP 5xx, 408
and 429 are retried up to ``webhook_job_max_retry`` runs with backoff; other answers (4xx, 3xx)
fail at once. Redirects are not followed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from berth_jobservice.db import webhook_policies as policies_db
from berth_jobservice.jobs.base import Job, JobContext, JobParameterError
from berth_jobservice.services import webhooks


class DeliveryError(RuntimeError):
    """A delivery failed; ``retryable`` says whether another attempt may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class WebhookJob(Job):
    name = "WEBHOOK"
    max_concurrency = 0

    def __init__(self, *, max_fails: int = 3, timeout_seconds: float = 3.0) -> None:
        self.max_fails = max_fails
        self.timeout_seconds = timeout_seconds

    def validate(self, params: Mapping[str, Any]) -> None:
        for key in ("policy_id", "project_id", "event_id"):
            if not isinstance(params.get(key), int) or isinstance(params.get(key), bool):
                raise JobParameterError(f"{key} must be an integer")
        if params.get("event_type") not in webhooks.EVENT_TYPES:
            raise JobParameterError(f"event_type must be one of {', '.join(webhooks.EVENT_TYPES)}")
        if params.get("payload_format", "Default") not in webhooks.PAYLOAD_FORMATS:
            raise JobParameterError(f"payload_format must be one of {', '.join(webhooks.PAYLOAD_FORMATS)}")
        if not isinstance(params.get("address"), str) or not params["address"].startswith(("http://", "https://")):
            raise JobParameterError("address must be an http(s) URL")
        if not isinstance(params.get("payload"), dict):
            raise JobParameterError("payload must be an object")

    def should_retry(self, error: Exception) -> bool:
        return getattr(error, "retryable", True)

    def run(self, ctx: JobContext, params: Mapping[str, Any]) -> None:
        with ctx.db.transaction() as cur:
            policy = policies_db.get(cur, params["policy_id"])
        if policy is None:
            raise DeliveryError(f"webhook policy {params['policy_id']} no longer exists", retryable=False)
        target = next((t for t in policy.targets if t.get("address") == params["address"]), None)
        if target is None:
            raise DeliveryError(f"{params['address']} is no longer a target of policy {policy.name!r}", retryable=False)

        headers, body = webhooks.render(
            params.get("payload_format", "Default"),
            params["payload"],
            event_id=params["event_id"],
            project_id=params["project_id"],
            policy_id=policy.id,
            request_id=ctx.job_id,
        )
        headers[webhooks.DELIVERY_HEADER] = ctx.job_id
        headers[webhooks.EVENT_TYPE_HEADER] = params["event_type"]
        if policy.secret:
            headers[webhooks.SIGNATURE_HEADER] = webhooks.sign(policy.secret, body)
        if target.get("auth_header"):
            headers["Authorization"] = target["auth_header"]

        ctx.log.info(
            f"POST {params['address']}",
            event_type=params["event_type"],
            format=params.get("payload_format", "Default"),
            bytes=len(body),
            signed=bool(policy.secret),
        )
        try:
            response = requests.post(
                params["address"],
                data=body,
                headers=headers,
                timeout=self.timeout_seconds,
                verify=not target.get("skip_cert_verify", False),
                allow_redirects=False,
            )
        except requests.Timeout:
            raise DeliveryError(f"no answer within {self.timeout_seconds:g}s", retryable=True) from None
        except requests.ConnectionError as exc:
            raise DeliveryError(f"cannot connect: {type(exc).__name__}", retryable=True) from None
        except requests.RequestException as exc:
            raise DeliveryError(f"request failed: {type(exc).__name__}: {exc}", retryable=False) from None
        ctx.set_result(http_status=response.status_code)
        if 200 <= response.status_code < 300:
            ctx.log.info(f"delivered: HTTP {response.status_code}")
            return
        retryable = response.status_code >= 500 or response.status_code in (408, 429)
        raise DeliveryError(f"receiver answered HTTP {response.status_code}", retryable=retryable)
