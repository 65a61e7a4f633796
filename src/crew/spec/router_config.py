"""The `models` kind: models.yaml is LiteLLM's router/proxy config, verbatim (DESIGN.md §2).
Unknown keys are refused except inside LiteLLM's own `litellm_params` / `model_info`."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from crew.spec.strict import Strict

ROUTER_SETTINGS_KEYS = frozenset(
    """alerting_config allowed_fails allowed_fails_policy assistants_config
    auto_router_capability_limit background_health_check_model_groups cache_kwargs cache_responses
    caching_groups client_ttl content_policy_fallbacks context_window_fallbacks cooldown_time
    debug_level default_fallbacks default_litellm_params default_max_parallel_requests
    default_priority deployment_affinity_ttl_seconds disable_cooldowns enable_health_check_routing
    enable_pre_call_checks enable_tag_filtering enable_weighted_failover fallback_access_check
    fallback_budget_check fallbacks guardrail_list health_check_ignore_transient_errors
    health_check_staleness_threshold ignore_invalid_deployments max_fallbacks
    model_group_affinity_config model_group_alias model_group_retry_policy num_retries
    optional_pre_call_checks plugins polling_interval provider_budget_config redis_db redis_host
    redis_password redis_port redis_url retry_after retry_policy router_general_settings
    routing_groups routing_strategy routing_strategy_args search_tools set_verbose stream_timeout
    tag_filtering_match_any tag_routing_prefix timeout""".split()  # noqa: SIM905
)


class LiteLLMParams(BaseModel):
    """LiteLLM's per-deployment params. Only `model` is required; the rest is LiteLLM's
    (api_base, api_key: os.environ/VAR, input_cost_per_token, rpm, tpm, ...)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)


class Deployment(BaseModel):
    model_config = ConfigDict(extra="allow")  # LiteLLM accepts more keys
    model_name: str = Field(min_length=1, description="The alias roles call, e.g. smart or fast.")
    litellm_params: LiteLLMParams
    model_info: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _misspelt_fields(cls, data: Any, handler: ModelWrapValidatorHandler[Deployment]
                         ) -> Deployment:
        """An extra key near a field the entry lacks (`litelm_params`) is that field
        misspelt: an unknown field (with its did-you-mean), not "missing litellm_params"."""
        from crew.spec.suggest import nearest

        if not isinstance(data, dict):
            return handler(data)
        absent = set(cls.model_fields) - set(data)
        typos = {k: f for k in data if isinstance(k, str) and k not in cls.model_fields
                 and (f := nearest(k, absent)) is not None}
        if not typos:
            return handler(data)
        errors = [InitErrorDetails(type="extra_forbidden", loc=(k,), input=data[k])
                  for k in typos]
        try:
            handler(data)
        except ValidationError as e:
            for d in e.errors():
                if d["type"] == "missing" and d["loc"][0] in typos.values():
                    continue  # the misspelt key is that field: said once, as unknown
                detail = InitErrorDetails(type=d["type"], loc=d["loc"], input=d["input"])
                if "ctx" in d:
                    detail["ctx"] = d["ctx"]
                errors.append(detail)
        raise ValidationError.from_exception_data(cls.__name__, errors)


# Top-level sections LiteLLM's proxy reads besides the five crew uses (litellm 1.106.2,
# proxy/proxy_server.py `config.get(...)`; `agent_settings` from LiteLLM's docs; the two JWT keys
# the proxy warns about and drops). crew keeps them and names them in `crew validate`.
PROXY_ONLY_SECTIONS = (
    "agent_list", "agent_settings", "agents", "assistant_settings", "callback_settings",
    "credential_list", "default_vertex_config", "enable_jwt_auth", "files_settings",
    "finetune_settings", "guardrails", "litellm_jwtauth", "mcp_servers", "mcp_tools", "policies",
    "policy_attachments", "prompts", "sandbox_tools", "search_tools", "vector_store_registry",
    "worker_registry")
# Router settings the proxy refuses ("move it to general_settings").
GENERAL_ONLY_ROUTER_KEYS = ("health_check_interval", "health_check_concurrency")
# litellm_settings crew does not apply: callbacks and Python import paths (crew traces with its
# own Langfuse sink and never imports code named in YAML) and the proxy's own key/team/UI knobs.
IGNORED_LITELLM_SETTINGS = frozenset(
    """audit_log_callbacks callbacks callback_settings custom_provider_map
    default_internal_user_params default_max_internal_user_budget default_team_settings
    failure_callback global_bitbucket_config global_gitlab_config global_prompt_directory
    guardrails input_callback json_logs key_alias_pattern max_internal_user_budget
    max_ui_session_budget mcp_aliases post_call_rules responses service_callback
    success_callback upperbound_key_generate_params""".split())  # noqa: SIM905
EnvValue = str | int | float | bool | None


class ModelsConfig(Strict):
    """LiteLLM's proxy config, verbatim: an existing LiteLLM config works unchanged. Sections
    only the proxy uses are kept (and named by `crew validate`); `include:` files are merged by
    crew.spec.litellm_config.load_models the way the proxy merges them."""

    model_list: list[Deployment] = Field(default_factory=list)
    router_settings: dict[str, Any] = Field(default_factory=dict)
    litellm_settings: dict[str, Any] = Field(default_factory=dict)
    general_settings: dict[str, Any] = Field(default_factory=dict)
    environment_variables: dict[str, EnvValue] = Field(default_factory=dict)
    include: list[str] = Field(default_factory=list, description="Files merged in (proxy rules).")
    agent_list: Any = None
    agent_settings: Any = None
    agents: Any = None
    assistant_settings: Any = None
    callback_settings: Any = None
    credential_list: Any = None
    default_vertex_config: Any = None
    enable_jwt_auth: Any = None
    files_settings: Any = None
    finetune_settings: Any = None
    guardrails: Any = None
    litellm_jwtauth: Any = None
    mcp_servers: Any = None
    mcp_tools: Any = None
    policies: Any = None
    policy_attachments: Any = None
    prompts: Any = None
    sandbox_tools: Any = None
    search_tools: Any = None
    vector_store_registry: Any = None
    worker_registry: Any = None

    @field_validator("router_settings", "litellm_settings", "general_settings",
                     "environment_variables", mode="before")
    @classmethod
    def _empty_section(cls, v: Any) -> Any:
        return {} if v is None else v  # `general_settings:` with nothing under it

    @field_validator("include", mode="before")
    @classmethod
    def _include_list(cls, v: Any) -> Any:
        if v is None:
            return []
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise ValueError("'include' must be a list of file paths")
        return v

    @field_validator("router_settings")
    @classmethod
    def _known_router_settings(cls, v: dict[str, Any]) -> dict[str, Any]:
        from crew.spec.suggest import did_you_mean

        for key in v:
            if key in GENERAL_ONLY_ROUTER_KEYS:
                raise ValueError(f"{key!r} is not a router setting (LiteLLM's proxy refuses it "
                                 "here too): move it to general_settings")
            if key not in ROUTER_SETTINGS_KEYS:
                raise ValueError(
                    f"unknown router setting {key!r}{did_you_mean(key, ROUTER_SETTINGS_KEYS)}"
                )
        return v

    def aliases(self) -> set[str]:
        return {d.model_name for d in self.model_list}

    def ignored(self) -> list[str]:
        """What crew keeps but does not use, e.g. ["guardrails", "general_settings"]."""
        out = [s for s in PROXY_ONLY_SECTIONS if getattr(self, s) not in (None, [], {})]
        if self.general_settings:
            out.append("general_settings")
        out += [f"litellm_settings.{k}" for k in self.litellm_settings
                if k in IGNORED_LITELLM_SETTINGS]
        return out
