"""Every route's operation id: short, stable, ``<resource>_<action>``, so a client generated
from ``/openapi.json`` (openapi-python-client, openapi-generator) reads naturally
(``customers_create_follow_up``, not ``create_follow_up_v1_customers__customer_id__…_post``).

A route without an id here fails the app at start (and the test that builds it): naming is
part of adding a route. Ids never change once published: clients are built on them.
"""

from __future__ import annotations

from fastapi.routing import APIRoute
from fastapi.utils import generate_unique_id

OPERATION_IDS: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "health_live",
    ("GET", "/readyz"): "health_ready",
    ("GET", "/metrics"): "health_prometheus_metrics",
    ("POST", "/v1/score"): "score_customers",
    ("POST", "/v1/analyze"): "text_analyze",
    ("POST", "/v1/feedback"): "feedback_send",
    ("POST", "/v1/customers"): "customers_send",
    ("GET", "/v1/customers/{customer_id}"): "customers_get_story",
    ("DELETE", "/v1/customers/{customer_id}"): "customers_erase",
    ("GET", "/v1/customers/{customer_id}/export"): "customers_export_subject",
    ("POST", "/v1/customers/{customer_id}/follow-ups"): "customers_create_follow_up",
    (
        "PATCH",
        "/v1/customers/{customer_id}/follow-ups/{follow_up_id}",
    ): "customers_change_follow_up",
    ("GET", "/v1/at-risk"): "at_risk_list",
    ("GET", "/v1/at-risk/summary"): "at_risk_summary",
    ("GET", "/v1/metrics/{metric}"): "metrics_get",
    ("GET", "/v1/drivers/{target}"): "drivers_get",
    ("GET", "/v1/alerts"): "alerts_list",
    ("GET", "/v1/models"): "models_list",
    ("POST", "/v1/models/reload"): "models_reload",
    ("GET", "/v1/models/{kind}/versions"): "models_list_versions",
    ("POST", "/v1/models/{kind}/promote"): "models_promote",
    ("GET", "/v1/audit"): "audit_list",
    ("GET", "/v1/drift"): "drift_get",
    ("GET", "/v1/survival"): "survival_get",
    ("GET", "/v1/themes"): "themes_list",
    ("GET", "/v1/themes/{theme_id}/comments"): "themes_list_comments",
    ("GET", "/v1/worklist"): "worklist_get",
    ("POST", "/v1/worklist/pulls"): "worklist_create_pull",
    ("GET", "/v1/worklist/pulls"): "worklist_read_pulls",
    ("GET", "/v1/follow-ups/impact"): "follow_ups_impact",
    ("GET", "/v1/follow-ups"): "follow_ups_list_overdue",
    ("GET", "/v1/config"): "config_get",
    ("POST", "/v1/feedback/{feedback_id}/intent-corrections"): "feedback_correct_intent",
    ("GET", "/v1/intent-corrections"): "intent_corrections_list",
    ("POST", "/v1/webhooks"): "webhooks_create",
    ("GET", "/v1/webhooks"): "webhooks_list",
    ("DELETE", "/v1/webhooks/{endpoint_id}"): "webhooks_delete",
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries"): "webhooks_list_deliveries",
    ("POST", "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"): "webhooks_redeliver",
}


def operation_id(route: APIRoute) -> str:
    """FastAPI's ``generate_unique_id_function``: the id listed for the route (routes kept
    out of the schema — the docs pages, the web page — keep FastAPI's own)."""
    if not route.include_in_schema:
        return generate_unique_id(route)
    path = route.path_format.replace(":path}", "}")
    methods = sorted(route.methods or ())
    ids = {OPERATION_IDS.get((method, path)) for method in methods}
    if None in ids or len(ids) != 1:
        raise RuntimeError(
            f"route {methods} {path} has no operation id: add it to "
            "serve/operations.py as <resource>_<action>"
        )
    found = ids.pop()
    assert found is not None
    return found
