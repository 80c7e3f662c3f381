"""One typed settings object; the only module that reads the environment (prefix ``CXML_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything cxml can be configured with.

    Defaults give the embedded setup: a SQLite file and a SQLite-backed MLflow
    store, both in the working directory. Every field can be set through the
    environment as ``CXML_<FIELD>`` (for example ``CXML_DATABASE_URL``).
    """

    model_config = SettingsConfigDict(env_prefix="CXML_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///cxml.db",
        description="SQLAlchemy URL of the store: sqlite:///path.db or postgresql+psycopg://user@host:5432/db",
    )
    mlflow_tracking_uri: str = Field(
        default="sqlite:///mlflow.db",
        description="MLflow tracking URI; the default is a SQLite-backed store in the working directory",
    )
    ingest_batch_rows: int = Field(
        default=50_000, ge=1, description="rows per ingestion batch (one transaction each)"
    )
    max_text_chars: int = Field(
        default=20_000, ge=1, description="longest feedback text accepted, in characters"
    )
    future_tolerance_days: int = Field(
        default=1,
        ge=0,
        description="feedback dated more than this many days after the ingest's now is rejected",
    )

    bucket_customers: int = Field(
        default=20_000,
        ge=1,
        description="customers read and processed together by bulk jobs (scoring, training "
        "sets); peak memory depends on it, not on the store's size",
    )
    spark_jars: tuple[Path, ...] = Field(
        default=(
            Path("/usr/share/java/postgresql.jar"),
            Path("/usr/share/java/xerial-sqlite-jdbc.jar"),
        ),
        description="JDBC drivers Spark reads the store with (Debian's libpostgresql-jdbc-java "
        "and libxerial-sqlite-jdbc-java)",
    )
    promote_margin: float = Field(
        default=0.005,
        ge=0,
        le=0.5,
        description="how much higher a challenger's ROC-AUC must be than the champion's, on the "
        "same backtest, to replace it (so noise does not flip the champion)",
    )
    text_promote_tolerance: float = Field(
        default=0.01,
        ge=0,
        le=0.5,
        description="how far below the champion a text challenger's held-out grades (sentiment "
        "macro-F1, theme coverage, theme coherence) may fall and still count as at least as good",
    )
    currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of the money in monthly values and revenue at risk (USD, "
        "EUR, JPY …); the page shows amounts in it",
    )
    model_dir: Path = Field(
        default=Path("exported-models"),
        description="models exported by `cxml export-models` (churn.joblib, text.joblib), served "
        "when the registry has no champion",
    )
    model_poll_seconds: float = Field(
        default=5.0,
        ge=0,
        description="how often each server worker checks for a new champion (0: only on reload)",
    )
    api_max_batch: int = Field(
        default=1000, ge=1, description="most customers, texts or feedback items in one request"
    )
    api_max_body_bytes: int = Field(
        default=10_000_000, ge=1_000, description="largest request body accepted, in bytes"
    )
    api_threads: int = Field(
        default=4,
        ge=1,
        le=256,
        description="threads per server worker for blocking work (database, models); more "
        "only make them contend for Python's interpreter lock under load",
    )
    api_request_timeout_seconds: float = Field(
        default=60.0, gt=0, description="a request running longer is answered 503"
    )
    api_max_page: int = Field(
        default=1000, ge=1, description="most rows of the at-risk list in one JSON page"
    )
    api_max_csv_rows: int = Field(
        default=100_000, ge=1, description="most rows of the at-risk list in one CSV export"
    )
    api_auth_failures_per_minute: int = Field(
        default=20,
        ge=1,
        description="failed API-key checks one client may make in a minute before it is "
        "answered 429 (per worker)",
    )
    api_cors_origins: list[str] = Field(
        default_factory=list,
        description="origins (https://crm.example.com) whose pages may call the API from a "
        "browser; none by default",
    )
    follow_up_due_days: dict[str, int] = Field(
        default_factory=lambda: {"high": 2, "medium": 7, "low": 14},
        description="days to do a follow-up, by the customer's risk band when it is opened "
        "(a customer not scored: the medium band's)",
    )
    escalate_after_days: int = Field(
        default=3,
        ge=0,
        description="days past its due date after which an open follow-up goes to the "
        "escalation owner (`cxml followups escalate`)",
    )
    escalation_owner: str | None = Field(
        default=None,
        description="who follow-ups long past due are handed to (e.g. the team lead); unset: "
        "none is escalated, overdue ones are only listed",
    )
    uplift_min_per_arm: int = Field(
        default=200,
        ge=10,
        description="randomised outcomes (pulls past their horizon) needed in each arm, contact "
        "and control, before an uplift model is trained and may rank the worklist",
    )
    holdout_share: float = Field(
        default=0.10,
        ge=0.0,
        lt=1.0,
        description="share of each worklist pull held out at random as a control (not "
        "contacted), per risk band, to measure what contact does; 0: no holdout",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="allow webhooks to http:// URLs and private or loopback addresses (a "
        "receiver on this machine or the company network); off: HTTPS to public addresses only",
    )
    webhook_poll_seconds: float = Field(
        default=1.0,
        ge=0,
        description="how often the server's worker sends due webhook deliveries (0: never)",
    )
    housekeeping_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="how often the server expires raw text past its retention and escalates "
        "follow-ups long past due (0: never; the CLI commands do the same on demand)",
    )
    store_text: Literal["raw", "redacted"] = Field(
        default="raw",
        description="what an ingest keeps of a comment: raw (as sent; exports and the page "
        "redact it unless the key holds pii) or redacted (names, e-mail addresses, phones "
        "and the rest never reach the store)",
    )
    privacy_key: str | None = Field(
        default=None,
        description="key of the keyed hash erased customers are remembered by (suppression "
        "list); unset: the store makes its own, kept in the store (set this to keep it apart)",
    )
    text_retention_days: dict[str, int] = Field(
        default_factory=dict,
        description='days raw text is kept per channel, e.g. {"chat": 365, "call": 90}; after '
        "it `cxml retention apply` keeps only the redacted text (a channel not listed: kept)",
    )

    def resolved_database_url(self) -> str:
        """Return the database URL with a relative SQLite path made absolute."""
        prefix = "sqlite:///"
        url = self.database_url
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(Path(url[len(prefix) :]).resolve())
        return url
