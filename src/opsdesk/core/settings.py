"""The one settings object: environment variables with the prefix ``OPSDESK_`` and an optional ``.env`` file."""

from __future__ import annotations

import json
import secrets
from datetime import time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ProviderKind = Literal["openai", "anthropic", "llamacpp"]


class ProviderSettings(BaseModel):
    """One chat model endpoint: which SDK speaks to it, where, and what it costs."""

    kind: ProviderKind
    model: str
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = 60.0
    max_retries: int = 2
    input_cost_per_mtok: float = 0.0
    output_cost_per_mtok: float = 0.0


class Settings(BaseSettings):
    """Effective configuration of one opsdesk process."""

    model_config = SettingsConfigDict(env_prefix="OPSDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path("./var")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "INFO"
    log_json: bool = True
    # OTLP over HTTP (e.g. http://otel-collector:4318): traces of requests, flow steps, provider calls, SQL, Redis and
    # jobs. Unset: no tracing at all.
    otel_endpoint: str | None = None
    otel_service_name: str = "opsdesk"

    database_url: SecretStr | None = None
    db_pool_size: int = 10
    redis_url: SecretStr | None = None
    amqp_url: SecretStr | None = None
    # Business events are relayed to this durable topic exchange (routing key = event type) when amqp_url is set.
    amqp_exchange: str = Field("opsdesk.events", pattern=r"^[A-Za-z0-9_.:-]{1,200}$")

    secret_key: SecretStr | None = None
    jwt_ttl_minutes: int = 60
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 1_048_576
    rate_limit_per_key: str = "6000/minute"
    rate_limit_per_user: str = "600/minute"
    # Web console sessions: how long a signed-in browser stays signed in, and whether its cookie is `Secure`
    # ("auto": when the request arrived over https, as uvicorn sees it behind a TLS proxy with forwarded headers).
    console_session_hours: int = Field(12, ge=1, le=720)
    console_secure_cookie: Literal["auto", "always", "never"] = "auto"

    # Chat providers. The local model is always available; hosted ones are added by their keys or by `llm_providers`.
    llm_providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    llm_fallback: list[str] = Field(default_factory=list)
    local_llm_enabled: bool = True
    local_llm_path: Path | None = None
    local_llm_threads: int = 2
    local_llm_context: int = 2048
    # Generations allowed to wait behind the running one; past that the local model answers "busy" at once and
    # callers degrade (knowledge answers become extractive) instead of queueing for a minute.
    local_llm_max_queue: int = Field(1, ge=0)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    anthropic_model: str = "claude-3-5-haiku-latest"
    openrouter_api_key: SecretStr | None = None
    openrouter_model: str = "openai/gpt-4o-mini"
    ollama_url: str | None = None
    ollama_model: str = "llama3.2"
    llm_timeout_s: float = 60.0
    breaker_fail_max: int = 5
    breaker_reset_s: float = 30.0

    embedding_provider: Literal["local", "openai"] = "local"
    embedding_model: str = "text-embedding-3-small"
    embedding_dim: int = 384

    # Knowledge service
    max_upload_bytes: int = 50 * 1_048_576
    chunk_max_tokens: int = 256
    chunk_overlap_tokens: int = 32
    ingest_concurrency: int = 2
    ingest_embed_batch: int = 64
    worker_in_process: bool = True
    # Niceness of ingestion work: a standalone `opsdesk worker` process, and the local embedding threads of the
    # in-process worker (0 = unchanged).
    worker_nice: int = Field(10, ge=0, le=19)
    # The share of one core local ingestion embedding may use while this process serves queries or chat turns (it
    # pauses between sub-batches to keep to it); 1 = no pacing. Idle, ingestion runs at full speed.
    ingest_share_while_serving: float = Field(0.25, gt=0, le=1)
    crawl_allow_private: bool = False
    crawl_max_pages: int = 200
    crawl_max_depth: int = 3
    crawl_timeout_s: float = 10.0
    crawl_max_bytes_per_page: int = 5 * 1_048_576
    retrieval_rrf_k: int = 60
    retrieval_semantic_weight: float = 1.0
    retrieval_keyword_weight: float = 1.0
    reranker: Literal["none", "llm", "cross-encoder"] = "none"
    answer_min_score: float = 0.3
    answer_min_sentence_score: float = 0.45  # an extractive answer's best sentence, by cosine to the question
    # Whether a chat model drafts knowledge answers (each sentence must pass the support check, else the extractive
    # answer is served): auto = only with a hosted provider in the chain, not the local 135M model alone.
    answer_generation: Literal["auto", "always", "never"] = "auto"
    query_cache_ttl_s: int = 300

    # Order desk
    order_currency: str = "SGD"
    order_tax_rate: Decimal = Decimal("0.08")  # a fraction: 8% GST
    order_tax_label: str = "GST"
    order_payment_terms_days: int = 30
    order_timezone: str = "Asia/Singapore"  # the business day: document numbers, delivery dates, the cutoff
    order_same_day_cutoff: time = time(11, 0)  # urgent orders before this are delivered the same day
    order_delivery_slots: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["09:00-12:00", "14:00-18:00"])
    order_delivery_weekdays: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    )
    order_lead_days: int = 1  # a normal order is delivered at the earliest this many days later
    order_anomaly_multiplier: Decimal = Decimal(3)  # > this times the outlet's median for a SKU asks to confirm
    order_anomaly_min_history: int = 3  # orders of a SKU the outlet needs before its median counts
    order_anomaly_history_orders: int = 20  # how many of the outlet's latest orders make its history
    order_anomaly_ceiling_units: int = 200  # any line above this many units asks to confirm
    order_anomaly_ceiling_total: Decimal = Decimal("20000")  # any order above this total asks to confirm
    # SKU -> the most units one line may have before it asks to confirm (JSON); replaces the line ceiling for it.
    order_anomaly_item_ceilings: dict[str, int] = Field(default_factory=dict)
    order_urgent_to_inbox: bool = False  # urgent orders go to the operator inbox as soon as they are drafted
    order_urgent_escalation_level: str = "staff"  # … at this level
    # The knowledge bases (names or ids) the order desk's chat answers from.
    order_knowledge_bases: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["order-desk"])
    order_seller_name: str = "Lion City Packaging Pte Ltd"
    order_seller_address: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["8 Tuas Avenue 3", "Singapore 639407"]
    )
    order_seller_registration: str = ""
    order_seller_tax_registration: str = ""
    order_seller_email: str = ""
    order_seller_phone: str = ""
    order_payment_instructions: str = ""
    order_invoice_retry_s: float = 300.0  # how often the background task retries pending invoices
    order_flow_pause: str = ""  # testing only: "step=seconds" sleeps in that flow step after its side effect
    # Inventory planner: forecasts use this many cores (-1: all); "dask" runs them through statsforecast's Dask
    # backend on the cluster at forecast_dask_address (a local cluster when unset).
    forecast_n_jobs: int = Field(default=1, ge=-1)
    forecast_engine: Literal["dask"] | None = None
    forecast_dask_address: str | None = None
    # Xero: when client id, secret, tenant and refresh token are set, invoices go to Xero; else to the local ledger.
    xero_client_id: str | None = None
    xero_client_secret: SecretStr | None = None
    xero_tenant_id: str | None = None
    xero_refresh_token: SecretStr | None = None  # the first one; rotated tokens are kept in the database
    xero_base_url: str = "https://api.xero.com/api.xro/2.0"
    xero_token_url: str = "https://identity.xero.com/connect/token"
    xero_account_code: str = "200"
    xero_tax_type: str = "OUTPUT"
    xero_timeout_s: float = 20.0
    xero_max_retries: int = 3
    xero_retry_base_s: float = 1.0

    @field_validator(
        "order_delivery_slots",
        "order_delivery_weekdays",
        "order_seller_address",
        "order_knowledge_bases",
        mode="before",
    )
    @classmethod
    def _split_order_lists(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    def xero_configured(self) -> bool:
        """Whether invoices go to Xero (all four Xero credentials set) rather than the local ledger."""
        return bool(self.xero_client_id and self.xero_client_secret and self.xero_tenant_id and self.xero_refresh_token)

    # Conversation runtime
    message_retention_days: int = 365  # messages older than this are deleted by the retention purge (0 keeps all)
    conversation_max_message_chars: int = 4000
    conversation_default_solution: str = "orders"
    # The most money each level may decide on (in the order currency); the director level has no limit.
    escalation_money_limits: dict[str, Decimal] = Field(
        default_factory=lambda: {"ai": Decimal(500), "staff": Decimal(5000), "manager": Decimal(50000)}
    )
    escalation_sla_minutes: dict[str, int] = Field(
        default_factory=lambda: {"ai": 5, "staff": 60, "manager": 240, "director": 1440}
    )
    semantic_cache_threshold: float = 0.78  # cosine floor; the pair verifier decides above it (bench/semantic_cache.py)
    semantic_cache_margin: float = 0.025  # the best match must beat the runner-up by this much
    semantic_cache_verifier_threshold: float = 0.57  # the pair verifier's probability that both ask the same thing
    cache_l1_ttl_s: int = 3600  # exact responses
    cache_l2_ttl_s: int = 86400  # semantic answers (pgvector)
    cache_l3_ttl_s: int = 86400  # intent results
    cache_l4_ttl_s: int = 3600  # retrieval results
    intent_llm_enabled: Literal["auto", "on", "off"] = "auto"  # auto: only when a hosted chat provider is configured

    # Voice desk inside `opsdesk up --voice-port`: the recogniser (loaded in the background; "none": keys only), and
    # where each caller's audio is kept as WAV (unset: not recorded). Recordings are deleted after
    # voice_recording_retention_days (unset: the message retention; 0 keeps them).
    voice_asr: Literal["none", "whisper-tiny.en", "whisper-base", "pocketsphinx"] = "whisper-tiny.en"
    voice_recordings_dir: Path | None = None
    voice_recording_retention_days: int | None = Field(None, ge=0)
    # The RTP pacer thread asks for the real-time FIFO class (kept as it was when the process may not: root,
    # CAP_SYS_NICE or an rtprio limit); measured in docs/voice.md ("Real-time pacing by default").
    voice_realtime_rtp: bool = True
    voice_web_calls_per_workspace: int = Field(10, ge=1)  # WebSocket ("call the desk") calls at once, per process

    default_workspace: str = "default"
    admin_email: str = "admin@opsdesk.local"
    admin_password: SecretStr | None = None
    demo: bool = False

    @field_validator("cors_origins", "llm_fallback", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    def chat_providers(self) -> dict[str, ProviderSettings]:
        """All configured chat providers by name, shortcuts included."""
        providers: dict[str, ProviderSettings] = {}
        if self.openai_api_key is not None:
            providers["openai"] = ProviderSettings(
                kind="openai",
                model=self.openai_model,
                base_url=self.openai_base_url,
                api_key=self.openai_api_key,
                timeout_s=self.llm_timeout_s,
            )
        if self.anthropic_api_key is not None:
            providers["anthropic"] = ProviderSettings(
                kind="anthropic",
                model=self.anthropic_model,
                base_url=self.anthropic_base_url,
                api_key=self.anthropic_api_key,
                timeout_s=self.llm_timeout_s,
            )
        if self.openrouter_api_key is not None:
            providers["openrouter"] = ProviderSettings(
                kind="openai",
                model=self.openrouter_model,
                base_url="https://openrouter.ai/api/v1",
                api_key=self.openrouter_api_key,
                timeout_s=self.llm_timeout_s,
            )
        if self.ollama_url:
            providers["ollama"] = ProviderSettings(
                kind="openai",
                model=self.ollama_model,
                base_url=self.ollama_url.rstrip("/") + "/v1",
                api_key=SecretStr("ollama"),
                timeout_s=self.llm_timeout_s,
            )
        providers.update(self.llm_providers)
        if self.local_llm_enabled and "local" not in providers:
            providers["local"] = ProviderSettings(
                kind="llamacpp", model="smollm2-135m-instruct", timeout_s=self.llm_timeout_s, max_retries=0
            )
        return providers

    def fallback_chain(self) -> list[str]:
        """Provider names in the order a request tries them."""
        providers = self.chat_providers()
        if self.llm_fallback:
            unknown = [name for name in self.llm_fallback if name not in providers]
            if unknown:
                raise ValueError(f"OPSDESK_LLM_FALLBACK names unknown providers: {', '.join(unknown)}")
            return list(self.llm_fallback)
        hosted = [name for name in providers if name != "local"]
        return hosted + (["local"] if "local" in providers else [])

    def jwt_secret(self) -> str:
        """The signing key: configured, or generated once and kept in the data dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = (self.data_dir / "secret_key").resolve()
        cached = _generated_secrets.get(path)
        if cached is not None:
            return cached
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        key = _generated_secrets[path] = path.read_text().strip()
        return key

    def masked(self) -> dict[str, Any]:
        """The effective configuration with every secret masked, for display."""
        data = self.model_dump(mode="json")
        for name, value in list(data.items()):
            field_value = getattr(self, name)
            if isinstance(field_value, SecretStr):
                data[name] = _mask_secret(field_value.get_secret_value())
            elif name == "llm_providers":
                data[name] = {
                    key: {**cfg, "api_key": "****" if cfg.get("api_key") else None} for key, cfg in value.items()
                }
        data["effective_chat_providers"] = {
            name: {"kind": cfg.kind, "model": cfg.model, "base_url": cfg.base_url}
            for name, cfg in self.chat_providers().items()
        }
        data["effective_fallback_chain"] = self.fallback_chain()
        return data


_generated_secrets: dict[Path, str] = {}


def _mask_secret(value: str) -> str:
    if "://" in value and "@" in value:
        scheme, rest = value.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:****@{host}"
    return "****" if value else ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
