"""OpenAPI links: how one operation's answer feeds the next (create a customer → send their
feedback → score them → open a follow-up → change it). Clients and generators read them to
chain calls; schemathesis follows them in its stateful tests."""

from __future__ import annotations

from typing import Any

CUSTOMER = "/v1/customers/{customer_id}"
FOLLOW_UPS = "/v1/customers/{customer_id}/follow-ups"


def _ref(path: str, method: str) -> str:
    """An operationRef: a JSON pointer to the operation in this document."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def link(
    path: str,
    method: str,
    description: str,
    *,
    parameters: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"operationRef": _ref(path, method), "description": description}
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = body
    return out


def about(customer: str) -> dict[str, dict[str, Any]]:
    """Links from an answer that names a customer (``customer`` a runtime expression)."""
    return {
        "ReadCustomer": link(
            CUSTOMER, "get", "The customer's story", parameters={"path.customer_id": customer}
        ),
        "ScoreCustomer": link(
            "/v1/score",
            "post",
            "Score the customer by id",
            body={"customers": [{"customer_id": customer}]},
        ),
        "OpenFollowUp": link(
            FOLLOW_UPS,
            "post",
            "Record a follow-up with the customer",
            parameters={"path.customer_id": customer},
        ),
    }


def responses(links: dict[str, dict[str, Any]], status: int = 200) -> dict[int | str, Any]:
    """``responses=`` for a route: its success answer carries ``links``."""
    return {status: {"links": links}}


CUSTOMERS_CREATED = {
    **about("$response.body#/results/0/customer_id"),
    "SendFeedback": link(
        "/v1/feedback",
        "post",
        "Send the customer's first comment",
        body={
            "feedback": [
                {
                    "feedback_id": "fb-{$response.body#/results/0/customer_id}",
                    "customer_id": "$response.body#/results/0/customer_id",
                    "created_at": "2025-01-15T09:00:00",
                    "channel": "email",
                    "text": "The bill was wrong again and nobody called me back.",
                }
            ]
        },
    ),
}
FEEDBACK_SENT = about("$request.body#/feedback/0/customer_id")
SCORED = about("$response.body#/results/0/customer_id")
FOLLOW_UP_OPENED = {
    "ChangeFollowUp": link(
        FOLLOW_UPS + "/{follow_up_id}",
        "patch",
        "Change the follow-up just opened",
        parameters={
            "path.customer_id": "$request.path.customer_id",
            "path.follow_up_id": "$response.body#/follow_up_id",
        },
    ),
    "ReadCustomer": link(
        CUSTOMER,
        "get",
        "The customer's story with the follow-up",
        parameters={"path.customer_id": "$request.path.customer_id"},
    ),
}
