"""The bare reference: a FastAPI endpoint that parses the same body and answers a fixed score,
with nothing behind it (no key check, store or model). Started by benchmarks/serve.py."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    customer_id: str


class Body(BaseModel):
    customers: list[Item]


@app.post("/bare")
def bare(body: Body) -> dict[str, Any]:
    return {
        "results": [
            {"customer_id": c.customer_id, "probability": 0.1, "band": "low"}
            for c in body.customers
        ]
    }
