"""Builds the configured providers once and answers "which provider serves this model name"."""

from __future__ import annotations

from opsdesk.core.errors import ConfigurationError, NotFound
from opsdesk.core.settings import ProviderSettings, Settings
from opsdesk.providers.accounting import CallRecorder
from opsdesk.providers.fallback import FallbackChat
from opsdesk.providers.llm.base import ChatProvider, EmbeddingProvider
from opsdesk.providers.resilience import ResilientChat, RetryTiming

DEFAULT_MODEL = "opsdesk"


class ProviderRegistry:
    """Every configured chat provider (each behind ResilientChat), the default fallback chain and the embedder."""

    def __init__(
        self,
        settings: Settings,
        providers: dict[str, ResilientChat],
        recorder: CallRecorder | None = None,
        *,
        timing: RetryTiming = RetryTiming(),
    ) -> None:
        self.settings = settings
        self.recorder = recorder
        self._providers = providers
        self._timing = timing
        self._default: FallbackChat | None = None
        self._embedder: EmbeddingProvider | None = None
        self._ingest_embedder: EmbeddingProvider | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, recorder: CallRecorder | None = None, *, timing: RetryTiming = RetryTiming()
    ) -> ProviderRegistry:
        """Builds every provider in ``settings.chat_providers()``; a missing local model fails here, at start."""
        providers = {
            name: ResilientChat(
                _build_chat(name, cfg, settings),
                cfg,
                recorder,
                fail_max=settings.breaker_fail_max,
                reset_timeout_s=settings.breaker_reset_s,
                timing=timing,
            )
            for name, cfg in settings.chat_providers().items()
        }
        return cls(settings, providers, recorder, timing=timing)

    @property
    def names(self) -> list[str]:
        """Configured provider names."""
        return list(self._providers)

    def chat(self, name: str) -> ResilientChat:
        """One provider by name."""
        try:
            return self._providers[name]
        except KeyError:
            raise NotFound(
                f"Unknown provider {name!r}; configured: {', '.join(self._providers) or 'none'}",
                details={"valid": self.names},
            ) from None

    def default(self) -> FallbackChat:
        """The fallback chain of ``settings.fallback_chain()``."""
        if self._default is None:
            chain = self.settings.fallback_chain()
            if not chain:
                raise ConfigurationError(
                    "No chat provider is configured: enable the local model (OPSDESK_LOCAL_LLM_ENABLED=true) "
                    "or set a provider key such as OPSDESK_OPENAI_API_KEY."
                )
            self._default = FallbackChat(DEFAULT_MODEL, [self.chat(name) for name in chain])
        return self._default

    def resolve_model(self, model_name: str | None) -> tuple[ChatProvider, str | None]:
        """Maps a public model name to (provider, model override): "opsdesk", "<provider>", "<provider>/<model>"."""
        if not model_name or model_name == DEFAULT_MODEL:
            return self.default(), None
        if model_name in self._providers:
            return self._providers[model_name], None
        provider_name, _, model = model_name.partition("/")
        if model and provider_name in self._providers:
            provider = self._providers[provider_name]
            return provider, (None if model == provider.model else model)
        for provider in self._providers.values():
            if provider.model == model_name:
                return provider, None
        raise NotFound(
            f"Unknown model {model_name!r}; valid names: {', '.join(self.model_names())}",
            code="model_not_found",
            details={"valid": self.model_names()},
        )

    def model_names(self) -> list[str]:
        """The names ``/v1/models`` lists: the default chain, each provider, and each provider's model."""
        names = [DEFAULT_MODEL] if self.settings.fallback_chain() else []
        names += list(self._providers)
        names += [f"{name}/{provider.model}" for name, provider in self._providers.items()]
        return names

    def embedder(self) -> EmbeddingProvider:
        """The configured embedding provider, built on first use."""
        if self._embedder is None:
            self._embedder = _build_embedder(self.settings, self.recorder, self._timing)
        return self._embedder

    def ingest_embedder(self) -> EmbeddingProvider:
        """The embedder ingestion uses. Locally it is the int8-product form of the same MiniLM, on threads of lower CPU
        priority (`worker_nice`) that keep to `ingest_share_while_serving` of a core while queries are being served;
        a hosted embedder is shared as is."""
        from opsdesk.providers.embedding.local_minilm import BackgroundMiniLM, LocalMiniLM

        if self._ingest_embedder is not None:
            return self._ingest_embedder
        shared = self.embedder()
        if self.settings.worker_nice > 0 and isinstance(shared, LocalMiniLM):
            self._ingest_embedder = BackgroundMiniLM(
                nice=self.settings.worker_nice, share=self.settings.ingest_share_while_serving
            )
            return self._ingest_embedder
        return shared

    async def aclose(self) -> None:
        """Closes every provider's connections."""
        for provider in self._providers.values():
            await provider.aclose()
        for embedder in {id(e): e for e in (self._embedder, self._ingest_embedder) if e is not None}.values():
            aclose = getattr(embedder, "aclose", None)
            if aclose is not None:
                await aclose()


def _build_chat(name: str, cfg: ProviderSettings, settings: Settings) -> ChatProvider:
    # Imported here so a process that never uses a vendor does not pay for importing its SDK.
    if cfg.kind == "openai":
        from opsdesk.providers.llm.openai_compat import OpenAIChat

        return OpenAIChat(name, cfg)
    if cfg.kind == "anthropic":
        from opsdesk.providers.llm.anthropic_chat import AnthropicChat

        return AnthropicChat(name, cfg)
    from opsdesk.providers.llm.llamacpp_chat import LlamaCppChat, default_local_model_path

    return LlamaCppChat(
        name,
        cfg,
        model_path=settings.local_llm_path or default_local_model_path(),
        n_threads=settings.local_llm_threads,
        n_ctx=settings.local_llm_context,
        max_queue=settings.local_llm_max_queue,
    )


def _build_embedder(settings: Settings, recorder: CallRecorder | None, timing: RetryTiming) -> EmbeddingProvider:
    if settings.embedding_provider == "openai":
        from opsdesk.providers.embedding.openai_embed import OpenAIEmbeddings

        if settings.openai_api_key is None and settings.openai_base_url is None:
            raise ConfigurationError(
                "OPSDESK_EMBEDDING_PROVIDER=openai needs OPSDESK_OPENAI_API_KEY (or OPSDESK_OPENAI_BASE_URL)."
            )
        return OpenAIEmbeddings(
            model=settings.embedding_model,
            dim=settings.embedding_dim,
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
            base_url=settings.openai_base_url,
            timeout_s=settings.llm_timeout_s,
            recorder=recorder,
            timing=timing,
        )
    from opsdesk.providers.embedding.local_minilm import LocalMiniLM

    if settings.embedding_dim != LocalMiniLM.dim:
        raise ConfigurationError(
            f"OPSDESK_EMBEDDING_DIM={settings.embedding_dim}, "
            f"but the local embedder gives {LocalMiniLM.dim} dimensions."
        )
    return LocalMiniLM()
