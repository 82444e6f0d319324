"""LiteLLM admin-API stand-in: a real HTTP server for tests (never shipped).

It mirrors the parts of LiteLLM 1.108.7's proxy that the collection's
key-management modules use: ``/key/*``, ``/user/*``, ``/team/*``, plus a small
data plane (``/v1/models``, ``/v1/chat/completions``) that checks virtual keys
the way ``user_api_key_auth`` does and accrues spend.

Fidelity rules (see README.md):

* every request body is validated with the pydantic request model of the
  installed ``litellm`` package; failures answer 422 ``{"detail": [{type, loc,
  msg}]}`` exactly like LiteLLM's RequestValidationError handler;
* answers and errors use the shapes the LiteLLM endpoint code produces,
  including its quirks (``str()`` of a dict as the error message, ``"None"``
  as a string ``param``, the regenerate Enterprise refusal being a 500 ...);
* the key value is never stored, only ``sha256(key)`` as ``token``.

Everything is keyed on the code in
``litellm/proxy/management_endpoints/key_management_endpoints.py``,
``internal_user_endpoints.py``, ``team_endpoints.py`` and
``litellm/proxy/auth/user_api_key_auth.py``.
"""

from __future__ import annotations

import os

# Offline: never let an import of litellm try to download the model cost map.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import copy  # noqa: E402
import email.utils  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Mapping  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from typing import Annotated, Any  # noqa: E402
from urllib.parse import parse_qs, unquote, urlsplit  # noqa: E402

from pydantic import BaseModel, Field, TypeAdapter, ValidationError  # noqa: E402

from litellm.litellm_core_utils.duration_parser import duration_in_seconds  # noqa: E402
from litellm.proxy._types import (  # noqa: E402
    BlockKeyRequest,
    DeleteTeamRequest,
    DeleteUserRequest,
    GenerateKeyRequest,
    GenerateKeyResponse,
    KeyRequest,
    LiteLLM_DeletedVerificationToken,
    LiteLLM_ManagementEndpoint_MetadataFields,
    LiteLLM_ManagementEndpoint_MetadataFields_Premium,
    LiteLLM_TeamMembership,
    LiteLLM_TeamTable,
    LiteLLM_VerificationToken,
    Member,
    NewTeamRequest,
    NewUserRequest,
    NewUserResponse,
    RegenerateKeyRequest,
    TeamInfoResponseObjectTeamTable,
    TeamListResponseObject,
    UpdateKeyRequest,
    UpdateTeamRequest,
    UpdateUserRequest,
    UserAPIKeyAuth,
)
from litellm.proxy.auth.route_checks import RouteChecks  # noqa: E402
from litellm.proxy.common_utils.timezone_utils import (  # noqa: E402
    budget_duration_error,
    get_budget_reset_time,
    keeps_due_budget_reset,
)
from litellm.secret_managers.base_secret_manager import raise_if_unsafe_secret_name  # noqa: E402
from litellm.types.proxy.common_proxy_errors import CommonProxyErrors  # noqa: E402
from litellm.types.proxy.management_endpoints.key_requests import LiteLLMKeyType  # noqa: E402
from litellm.types.proxy.management_endpoints.ui_sso import LiteLLM_UpperboundKeyGenerateParams  # noqa: E402
from litellm.types.proxy.management_endpoints.user_requests import LiteLLM_UserTableWithKeyCount  # noqa: E402

from .faults import FaultConfig, Faults  # noqa: E402
from .store import KEY_SORT_COLUMNS, Store  # noqa: E402

log = logging.getLogger("tests.standin")

LITELLM_VERSION = "1.108.7"
DEFAULT_MASTER_KEY = "sk-standin-master-0123456789abcdef"
DEFAULT_MODELS: tuple[str, ...] = ("fake-model", "gpt-4o-mini")
DEFAULT_COST_PER_REQUEST = 0.001

PROXY_ADMIN_NAME = "default_user_id"  # litellm.constants.LITELLM_PROXY_ADMIN_NAME
MASTER_KEY_ALIAS = "litellm_proxy_master_key"  # litellm.constants.LITELLM_PROXY_MASTER_KEY_ALIAS
UI_SESSION_TEAM_ID = "litellm-dashboard"
GENERATED_KEY_BYTES = 16  # LENGTH_OF_LITELLM_GENERATED_KEY
MINIMUM_CUSTOM_KEY_LENGTH = 16
NOT_PREMIUM = CommonProxyErrors.not_premium_user.value
# litellm.enable_key_alias_format_validation (opt-in, off by default) uses this rule:
KEY_ALIAS_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_\-/\.@]{0,253}[a-zA-Z0-9]$")
KEY_ALIAS_PATTERN_MESSAGE = (
    "Invalid key_alias format. Must be 2-255 characters, start/end with alphanumeric, and only contain a-zA-Z0-9_-/.@."
)
META_FIELDS: tuple[str, ...] = tuple(LiteLLM_ManagementEndpoint_MetadataFields)
# _common_key_generation_helper: the fields default_key_generate_params fills when the request leaves them None
# (plus models when [] and metadata when {}; object_permission is merged field by field).
DEFAULT_KEY_PARAM_FIELDS = (
    "max_budget",
    "user_id",
    "team_id",
    "max_parallel_requests",
    "tpm_limit",
    "rpm_limit",
    "budget_duration",
    "duration",
)
BUDGET_NUMERIC_KEYS = ("max_budget", "soft_budget", "max_parallel_requests", "tpm_limit", "rpm_limit", "tpd_limit")
# LiteLLMRoutes.info_routes that the stand-in serves: a non-admin key passes auth, the endpoint decides.
INFO_ROUTES = ("/key/info", "/key/list", "/user/info", "/team/info", "/team/list")
DB_NOT_CONNECTED = CommonProxyErrors.db_not_connected_error.value
_DB_HINT = "Database not connected. Connect a database to your proxy - https://docs.litellm.ai/docs/simple_proxy#managing-auth---virtual-keys"


def _proxy_error_body(message: str, type_: str, param: str | None, status: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": str(status)}}


# Without a database (general_settings without database_url), what each endpoint answers the master key:
# every one its own status, shape and message (LiteLLM 1.108.7, seen on the real proxy).
NO_DATABASE_ANSWERS: dict[str, tuple[int, Any]] = {
    "/key/generate": (500, _proxy_error_body(str({"error": DB_NOT_CONNECTED}), "internal_server_error", None, 500)),
    "/key/info": (500, _proxy_error_body(_DB_HINT, "internal_server_error", None, 500)),
    "/key/list": (
        500,
        _proxy_error_body("Authentication Error, Database not connected", "internal_server_error", "None", 500),
    ),
    "/key/update": (500, _proxy_error_body(str({"error": "Database not connected"}), "auth_error", "None", 500)),
    "/key/delete": (500, _proxy_error_body("Not connected to DB!", "internal_server_error", None, 500)),
    "/key/block": (500, {"error": {"message": "Internal server error", "type": "internal_server_error"}}),
    "/key/unblock": (500, {"error": {"message": "Internal server error", "type": "internal_server_error"}}),
    "/user/new": (400, _proxy_error_body(DB_NOT_CONNECTED, "internal_server_error", None, 400)),
    "/user/info": (500, _proxy_error_body(_DB_HINT, "internal_server_error", None, 500)),
    "/user/update": (400, _proxy_error_body("Authentication Error, Not connected to DB!", "auth_error", "None", 400)),
    "/user/delete": (500, {"detail": {"error": "No db connected"}}),
    "/user/list": (500, {"detail": {"error": "No db connected. prisma client=None"}}),
    "/team/new": (500, _proxy_error_body(str({"error": "No db connected"}), "internal_server_error", None, 500)),
    "/team/info": (500, _proxy_error_body(str({"error": _DB_HINT}), "auth_error", "None", 500)),
    "/team/update": (
        401,
        _proxy_error_body(
            "Authentication Error, No DB Connected. See - https://docs.litellm.ai/docs/proxy/virtual_keys",
            "auth_error",
            "None",
            401,
        ),
    ),
    "/team/delete": (500, {"detail": {"error": "No db connected"}}),
    "/team/list": (400, {"detail": {"error": DB_NOT_CONNECTED}}),
}
# A key other than the master key, without a database: user_api_key_auth cannot look it up.
NO_DATABASE_AUTH = _proxy_error_body("No connected db.", "no_db_connection", None, 400)
CUSTOM_KEYS_DISABLED = "Custom API key values are disabled by your administrator. Keys must be auto-generated."
PREMIUM_FIELDS: tuple[str, ...] = tuple(LiteLLM_ManagementEndpoint_MetadataFields_Premium)

# ----------------------------------------------------------------------------- table columns
# Column defaults of LiteLLM_VerificationToken in proxy/schema.prisma.
KEY_COLUMNS: dict[str, Any] = {
    "token": None,
    "key_name": None,
    "key_alias": None,
    "soft_budget_cooldown": False,
    "spend": 0.0,
    "total_spend": 0.0,
    "expires": None,
    "models": [],
    "aliases": {},
    "config": {},
    "router_settings": {},
    "user_id": None,
    "team_id": None,
    "agent_id": None,
    "project_id": None,
    "permissions": {},
    "max_parallel_requests": None,
    "metadata": {},
    "blocked": None,
    "tpm_limit": None,
    "rpm_limit": None,
    "tpd_limit": None,
    "max_budget": None,
    "budget_duration": None,
    "budget_reset_at": None,
    "allowed_cache_controls": [],
    "allowed_routes": [],
    "key_type": None,
    "policies": [],
    "access_group_ids": [],
    "model_spend": {},
    "model_max_budget": {},
    "budget_fallbacks": {},
    "budget_id": None,
    "organization_id": None,
    "object_permission_id": None,
    "created_at": None,
    "created_by": None,
    "updated_at": None,
    "updated_by": None,
    "settings_updated_at": None,
    "last_active": None,
    "rotation_count": 0,
    "auto_rotate": False,
    "rotation_interval": None,
    "last_rotation_at": None,
    "key_rotation_at": None,
    "budget_limits": None,
}
# Relation fields a prisma row carries (None unless included).
# Columns of LiteLLM_BudgetTable (schema.prisma) that a key's budget row holds.
BUDGET_COLUMNS = (
    "budget_id",
    "max_budget",
    "soft_budget",
    "max_parallel_requests",
    "tpm_limit",
    "rpm_limit",
    "tpd_limit",
    "model_max_budget",
    "budget_duration",
    "budget_reset_at",
    "allowed_models",
    "temp_budget_increase",
    "temp_budget_expiry",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)
# Relation fields of a LiteLLM_BudgetTable prisma row (None unless included).
BUDGET_RELATIONS = (
    "organization",
    "projects",
    "keys",
    "end_users",
    "tags",
    "model_access_groups",
    "team_membership",
    "organization_membership",
)
# LiteLLM_ObjectPermissionTable: scalar columns with their schema defaults, then relations.
OBJECT_PERMISSION_COLUMNS: dict[str, Any] = {
    "object_permission_id": None,
    "mcp_servers": [],
    "mcp_access_groups": [],
    "mcp_tool_permissions": None,
    "vector_stores": [],
    "agents": [],
    "agent_access_groups": [],
    "models": [],
    "blocked_tools": [],
    "mcp_toolsets": [],
    "search_tools": [],
    "mcp_tool_search_enabled": None,
    "skills": [],
}
OBJECT_PERMISSION_RELATIONS = (
    "teams",
    "projects",
    "verification_tokens",
    "organizations",
    "users",
    "end_users",
    "agents_table",
)
# Relation fields of a LiteLLM_UserTable prisma row (None unless included).
USER_RELATIONS = (
    "verified_subjects",
    "litellm_organization_table",
    "organization_memberships",
    "invitations_created",
    "invitations_updated",
    "invitations_user",
    "object_permission",
)
# Relation fields of a LiteLLM_TeamTable prisma row.
TEAM_RELATIONS = ("litellm_model_table", "litellm_organization_table", "object_permission", "projects")
KEY_RELATIONS = (
    "litellm_budget_table",
    "litellm_organization_table",
    "litellm_project_table",
    "object_permission",
    "jwt_key_mappings",
)
KEY_DT_FIELDS = (
    "expires",
    "budget_reset_at",
    "created_at",
    "updated_at",
    "settings_updated_at",
    "last_active",
    "last_rotation_at",
    "key_rotation_at",
    "deleted_at",
)

USER_COLUMNS: dict[str, Any] = {
    "user_id": None,
    "user_alias": None,
    "team_id": None,
    "sso_user_id": None,
    "organization_id": None,
    "object_permission_id": None,
    "password_reset_required": None,
    "last_breach_check_at": None,
    "teams": [],
    "user_role": None,
    "max_budget": None,
    "spend": 0.0,
    "user_email": None,
    "models": [],
    "metadata": {},
    "max_parallel_requests": None,
    "tpm_limit": None,
    "rpm_limit": None,
    "budget_duration": None,
    "budget_reset_at": None,
    "allowed_cache_controls": [],
    "policies": [],
    "model_spend": {},
    "model_max_budget": {},
    "created_at": None,
    "updated_at": None,
}
USER_DT_FIELDS = ("last_breach_check_at", "budget_reset_at", "created_at", "updated_at")
MAX_USER_ID_LENGTH = 512  # internal_user_endpoints._is_valid_user_id

TEAM_COLUMNS: dict[str, Any] = {
    "team_id": None,
    "team_alias": None,
    "organization_id": None,
    "object_permission_id": None,
    "admins": [],
    "members": [],
    "members_with_roles": [],
    "metadata": {},
    "max_budget": None,
    "soft_budget": None,
    "spend": 0.0,
    "models": [],
    "max_parallel_requests": None,
    "tpm_limit": None,
    "rpm_limit": None,
    "tpd_limit": None,
    "budget_duration": None,
    "budget_reset_at": None,
    "blocked": False,
    "created_at": None,
    "updated_at": None,
    "model_spend": {},
    "model_max_budget": {},
    "router_settings": {},
    "team_member_permissions": [],
    "access_group_ids": [],
    "policies": [],
    "default_team_member_models": [],
    "budget_limits": None,
    "model_id": None,
    "allow_team_guardrail_config": False,
}
TEAM_DT_FIELDS = ("budget_reset_at", "created_at", "updated_at")


# ----------------------------------------------------------------------------- small helpers
def _model_listing_info(name: str, deployment: str | None) -> dict[str, Any]:
    """What /v1/models adds to a model (utils' model-object builder): ``mode``, ``max_input_tokens`` and
    ``max_output_tokens`` from LiteLLM's model cost map, for the deployment behind the name or else the name."""
    import contextlib
    import io

    import litellm

    for candidate in (deployment, name):
        if not candidate:
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # get_model_info prints a provider hint on a miss
                info = litellm.get_model_info(candidate)
        except Exception:  # noqa: BLE001 - not in the cost map
            continue
        return {k: info.get(k) for k in ("mode", "max_input_tokens", "max_output_tokens") if info.get(k) is not None}
    return {}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_token_if_needed(token: str) -> str:
    return hash_token(token) if token.startswith("sk-") else token


def abbreviate_api_key(api_key: str) -> str:
    if len(api_key) < MINIMUM_CUSTOM_KEY_LENGTH:
        return "sk-..."
    return f"sk-...{api_key[-4:]}"


def iso(dt: datetime | None) -> str | None:
    """Stored datetime format: UTC, millisecond precision, ``+00:00`` suffix (like a prisma row's isoformat())."""
    if dt is None:
        return None
    dt = dt.astimezone(timezone.utc)
    return dt.replace(microsecond=(dt.microsecond // 1000) * 1000).isoformat(timespec="microseconds")


def parse_dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    dt = datetime.fromisoformat(str(value))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _with_datetimes(row: Mapping[str, Any], dt_fields: tuple[str, ...]) -> dict[str, Any]:
    out = dict(row)
    for name in dt_fields:
        if isinstance(out.get(name), str):
            out[name] = parse_dt(out[name])
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, default=_json_default).encode()


_MISSING = object()


# ----------------------------------------------------------------------------- error model
class ApiError(Exception):
    """Final HTTP answer: ``status`` and a JSON ``body``."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


class HTTPExc(Exception):
    """Like fastapi.HTTPException: what each endpoint then wraps in its own way."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


class ProxyExc(Exception):
    """Like litellm ProxyException: rendered as ``{"error": {message, type, param, code}}``."""

    def __init__(self, message: Any, type_: str, param: str | None, status: int) -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.type = type_
        self.param = param
        self.status = status

    def to_api_error(self) -> ApiError:
        return ApiError(
            self.status,
            {"error": {"message": self.message, "type": self.type, "param": self.param, "code": str(self.status)}},
        )


def style_handle_exception_on_proxy(exc: Exception) -> ApiError:
    """litellm.proxy.utils.handle_exception_on_proxy (used by generate, delete, info, regenerate, team/new ...)."""
    if isinstance(exc, ProxyExc):
        return exc.to_api_error()
    if isinstance(exc, HTTPExc):
        return ProxyExc(exc.detail, "internal_server_error", None, exc.status).to_api_error()
    return ProxyExc(str(exc), "internal_server_error", None, getattr(exc, "status_code", 500)).to_api_error()


def style_auth_error(exc: Exception) -> ApiError:
    """update_key_fn / user_update / team_info: HTTPException -> auth_error with param "None"."""
    if isinstance(exc, ProxyExc):
        return exc.to_api_error()
    if isinstance(exc, HTTPExc):
        return ProxyExc(exc.detail, "auth_error", "None", exc.status).to_api_error()
    return ProxyExc("Authentication Error, " + str(exc), "auth_error", "None", 400).to_api_error()


def style_list_keys(exc: Exception) -> ApiError:
    """list_keys: HTTPException -> internal_server_error with param "None"; others -> 500."""
    if isinstance(exc, ProxyExc):
        return exc.to_api_error()
    if isinstance(exc, HTTPExc):
        return ProxyExc(exc.detail, "internal_server_error", "None", exc.status).to_api_error()
    return ProxyExc("Authentication Error, " + str(exc), "internal_server_error", "None", 500).to_api_error()


def style_raw(exc: Exception) -> ApiError:
    """No try/except in the endpoint: FastAPI's HTTPException handler answers ``{"detail": ...}``."""
    if isinstance(exc, ProxyExc):
        return exc.to_api_error()
    if isinstance(exc, HTTPExc):
        return ApiError(exc.status, {"detail": exc.detail})
    return ProxyExc(str(exc), "internal_server_error", None, 500).to_api_error()


def premium_error(feature: str | None = None) -> HTTPExc:
    if feature:
        msg = f"This feature is only available for LiteLLM Enterprise users: {feature}. {NOT_PREMIUM}"
    else:
        msg = f"This feature is only available for LiteLLM Enterprise users. {NOT_PREMIUM}"
    return HTTPExc(403, {"error": msg})


def validation_error(errors: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, {"detail": errors})


# ----------------------------------------------------------------------------- requests
@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    json: Any = _MISSING
    raw_query: str = ""  # the query string as sent (LiteLLM re-reads user_id from it with unquote)

    def header(self, name: str) -> str | None:
        getter = getattr(self.headers, "get", None)
        if getter is None:
            return None
        value = getter(name)
        if value is None and not hasattr(self.headers, "get_all"):
            lowered = {k.lower(): v for k, v in self.headers.items()}
            value = lowered.get(name.lower())
        return value

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Principal:
    is_admin: bool
    api_key: str
    user_id: str | None = None
    user_role: str | None = None
    key_row: dict[str, Any] | None = None


@dataclass
class Route:
    handler: Callable[..., tuple[int, Any]]
    kind: str  # "admin", "llm", "public", "standin"
    body_model: type[BaseModel] | None = None
    body_optional: bool = False
    style: Callable[[Exception], ApiError] = style_handle_exception_on_proxy
    extra: dict[str, Any] = field(default_factory=dict)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(tp: Any) -> TypeAdapter[Any]:
    if tp not in _ADAPTERS:
        _ADAPTERS[tp] = TypeAdapter(tp)
    return _ADAPTERS[tp]


PageInt = Annotated[int, Field(ge=1)]
SizeInt = Annotated[int, Field(ge=1, le=100)]
PositiveInt = Annotated[int, Field(gt=0)]


class QueryParams:
    """FastAPI-like query validation: errors collect as ``{"type", "loc": ["query", name], "msg"}``."""

    def __init__(self, req: Request) -> None:
        self.req = req
        self.errors: list[dict[str, Any]] = []

    def get(self, name: str, tp: Any = str, default: Any = None) -> Any:
        raw = self.req.q(name)
        if raw is None:
            return default
        try:
            return _adapter(tp).validate_python(raw)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                self.errors.append({"type": err["type"], "loc": ["query", name], "msg": err["msg"]})
            return default

    def get_list(self, name: str) -> list[str] | None:
        return self.req.query.get(name) or None

    def raise_if_errors(self) -> None:
        if self.errors:
            raise validation_error(self.errors)


# ----------------------------------------------------------------------------- the app
class StandinApp:
    """Request dispatcher + endpoint logic; transport-agnostic (see ``StandinHTTPServer``)."""

    def __init__(
        self,
        db_path: str,
        master_key: str = DEFAULT_MASTER_KEY,
        *,
        enterprise: bool = False,
        cost_per_request: float = DEFAULT_COST_PER_REQUEST,
        models: tuple[str, ...] | list[str] = DEFAULT_MODELS,
        fault_seed: int | None = None,
        key_alias_format_validation: bool = False,
        disable_custom_api_keys: bool = False,
        default_key_generate_params: Mapping[str, Any] | None = None,
        upperbound_key_generate_params: Mapping[str, Any] | None = None,
        database: bool = True,
    ) -> None:
        self.store = Store(db_path)
        # database=False: a proxy without DATABASE_URL (the role's default database mode "none")
        self.database = bool(database)
        self.key_alias_format_validation = key_alias_format_validation
        # general_settings.disable_custom_api_keys
        self.disable_custom_api_keys = bool(disable_custom_api_keys)
        # litellm_settings.default_key_generate_params (a plain dict in LiteLLM too)
        self.default_key_generate_params = (
            dict(default_key_generate_params) if default_key_generate_params is not None else None
        )
        # litellm_settings.upperbound_key_generate_params, validated like proxy_server does
        self.upperbound_key_generate_params = (
            LiteLLM_UpperboundKeyGenerateParams(**upperbound_key_generate_params)
            if upperbound_key_generate_params is not None
            else None
        )
        self.master_key = master_key
        self.enterprise = enterprise
        self.cost_per_request = float(cost_per_request)
        # "name" or "name=provider/model" (the deployment behind the name, as in config.yaml's model_list)
        self.model_deployments = {
            name.strip(): (backing.strip() or None)
            for name, _unused, backing in (str(m).partition("=") for m in models)
            if name.strip()
        }
        self.models = tuple(self.model_deployments)
        self.model_listing = {
            name: _model_listing_info(name, backing) for name, backing in self.model_deployments.items()
        }
        self.faults = Faults(seed=fault_seed)
        self.clock_offset = 0.0
        self.request_count = 0
        self._count_lock = threading.Lock()
        self.routes: dict[tuple[str, str], Route] = {}
        self._register_routes()

    # ------------------------------------------------------------------ clock
    def now(self) -> datetime:
        dt = datetime.now(timezone.utc) + timedelta(seconds=self.clock_offset)
        return dt.replace(microsecond=(dt.microsecond // 1000) * 1000)

    # --------------------------------------------------------------- routing
    def _register_routes(self) -> None:
        r = self.routes
        r[("POST", "/key/generate")] = Route(self.key_generate, "admin", GenerateKeyRequest)
        r[("POST", "/key/update")] = Route(self.key_update, "admin", UpdateKeyRequest, style=style_auth_error)
        r[("POST", "/key/delete")] = Route(self.key_delete, "admin", KeyRequest)
        r[("POST", "/key/block")] = Route(self.key_block, "admin", BlockKeyRequest, style=style_raw)
        r[("POST", "/key/unblock")] = Route(self.key_unblock, "admin", BlockKeyRequest, style=style_raw)
        r[("GET", "/key/info")] = Route(self.key_info, "admin")
        r[("GET", "/key/list")] = Route(self.key_list, "admin", style=style_list_keys)
        r[("POST", "/key/regenerate")] = Route(self.key_regenerate, "admin", RegenerateKeyRequest, body_optional=True)
        r[("POST", "/user/new")] = Route(self.user_new, "admin", NewUserRequest)
        r[("POST", "/user/update")] = Route(self.user_update, "admin", UpdateUserRequest, style=style_auth_error)
        r[("GET", "/user/info")] = Route(self.user_info, "admin")
        r[("POST", "/user/delete")] = Route(self.user_delete, "admin", DeleteUserRequest, style=style_raw)
        r[("GET", "/user/list")] = Route(self.user_list, "admin", style=style_raw)
        r[("POST", "/team/new")] = Route(self.team_new, "admin", NewTeamRequest)
        r[("POST", "/team/update")] = Route(self.team_update, "admin", UpdateTeamRequest)
        r[("GET", "/team/info")] = Route(self.team_info, "admin", style=style_auth_error)
        r[("POST", "/team/delete")] = Route(self.team_delete, "admin", DeleteTeamRequest, style=style_raw)
        r[("GET", "/team/list")] = Route(self.team_list, "admin", style=style_raw)
        for path in ("/v1/models", "/models"):
            r[("GET", path)] = Route(self.models_list, "llm")
        for path in ("/v1/chat/completions", "/chat/completions"):
            r[("POST", path)] = Route(self.chat_completions, "llm", extra={"route": "/chat/completions"})
        r[("GET", "/health/liveliness")] = Route(self.health_liveliness, "public")
        r[("GET", "/health/liveness")] = Route(self.health_liveliness, "public")
        r[("GET", "/health/readiness")] = Route(self.health_readiness, "public")
        r[("GET", "/__standin/faults")] = Route(self.standin_get_faults, "standin")
        r[("POST", "/__standin/faults")] = Route(self.standin_set_faults, "standin")
        r[("DELETE", "/__standin/faults")] = Route(self.standin_clear_faults, "standin")
        r[("GET", "/__standin/clock")] = Route(self.standin_get_clock, "standin")
        r[("POST", "/__standin/clock")] = Route(self.standin_set_clock, "standin")
        r[("GET", "/__standin/config")] = Route(self.standin_config, "standin")

    def _resolve(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        route = self.routes.get((method, path))
        if route is not None:
            return route, {}, True
        # /key/{key:path}/regenerate
        if path.startswith("/key/") and path.endswith("/regenerate") and len(path) > len("/key//regenerate"):
            key = unquote(path[len("/key/") : -len("/regenerate")])
            if method == "POST":
                return self.routes[("POST", "/key/regenerate")], {"key": key}, True
            return None, {}, True
        path_known = any(p == path for (_unused, p) in self.routes)
        return None, {}, path_known

    def dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
        raw_query: str = "",
    ) -> tuple[int, Any, dict[str, str]]:
        with self._count_lock:
            self.request_count += 1
        req = Request(method=method, path=path, query=query, headers=headers, body=body, raw_query=raw_query)
        route, path_params, path_known = self._resolve(method, path)
        if route is None:
            if path_known:
                return 405, {"detail": "Method Not Allowed"}, {}
            return 404, {"detail": "Not Found"}, {}
        try:
            # 1. FastAPI reads and JSON-decodes the body before running any dependency.
            if route.body_model is not None or route.kind in ("llm", "standin"):
                req.json = self._parse_json(req, strict=route.body_model is not None)
            if route.body_model is not None and req.json is not _MISSING and not isinstance(req.json, dict):
                # LiteLLM reads a parsed body as a dict before auth and FastAPI's validation, so a JSON
                # array (or number, string) ends in its unhandled-exception handler: a bare 500.
                raise ApiError(500, {"error": {"message": "Internal server error", "type": "internal_server_error"}})
            # 2. user_api_key_auth
            principal = None
            if route.kind != "public":
                principal = self.authenticate(req, route)
            # 3. body validation errors (collected after the dependencies ran)
            data = None
            if route.body_model is not None:
                data = self._validate_body(route.body_model, req.json, optional=route.body_optional)
            # 4. without a database each management endpoint fails in its own way
            if not self.database and route.kind == "admin":
                self._raise_without_database(req, path)
            try:
                if route.body_model is not None:
                    status, payload = route.handler(req, principal, data, **path_params)
                else:
                    status, payload = route.handler(req, principal, **path_params)
            except ApiError:
                raise
            except (HTTPExc, ProxyExc, ValueError, KeyError, TypeError) as exc:
                raise route.style(exc) from exc
        except ApiError as err:
            return err.status, err.body, err.headers
        except ProxyExc as exc:
            err = exc.to_api_error()
            return err.status, err.body, err.headers
        except HTTPExc as exc:
            err = style_raw(exc)
            return err.status, err.body, err.headers
        except Exception as exc:  # pragma: no cover - a bug in the stand-in itself
            log.exception("stand-in internal error on %s %s", method, path)
            return (
                500,
                {
                    "error": {
                        "message": f"stand-in internal error: {exc!r}",
                        "type": "internal_server_error",
                        "param": None,
                        "code": "500",
                    }
                },
                {},
            )
        headers_out: dict[str, str] = {}
        if isinstance(payload, tuple) and len(payload) == 2 and isinstance(payload[1], dict):
            payload, headers_out = payload
        return status, payload, headers_out

    # ----------------------------------------------------------- body/query
    @staticmethod
    def _parse_json(req: Request, strict: bool) -> Any:
        if not req.body or not req.body.strip():
            return _MISSING
        try:
            return json.loads(req.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            pos = getattr(exc, "pos", 0)
            if strict:
                raise validation_error(
                    [{"type": "json_invalid", "loc": ["body", pos], "msg": "JSON decode error"}]
                ) from exc
            raise ProxyExc(f"Invalid JSON payload: {exc}", "invalid_request_error", None, 400).to_api_error() from exc

    @staticmethod
    def _validate_body(model: type[BaseModel], body: Any, optional: bool) -> BaseModel | None:
        if body is _MISSING:
            if optional:
                return None
            raise validation_error([{"type": "missing", "loc": ["body"], "msg": "Field required"}])
        if not isinstance(body, dict):  # dispatch() answers 500 before this (see there)
            raise ApiError(500, {"error": {"message": "Internal server error", "type": "internal_server_error"}})
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            errors = [
                {"type": err["type"], "loc": ["body", *err["loc"]], "msg": err["msg"]}
                for err in exc.errors(include_url=False)
            ]
            raise validation_error(errors) from exc

    # ------------------------------------------------------------- no database
    def _raise_without_database(self, req: Request, path: str) -> None:
        """The answers of LiteLLM 1.108.7 without DATABASE_URL (seen on the real proxy), per endpoint."""
        if path == "/key/regenerate" or (path.startswith("/key/") and path.endswith("/regenerate")):
            return  # key_regenerate checks its licence first, then the database
        answer = NO_DATABASE_ANSWERS.get(path)
        if answer is None:
            raise ApiError(500, {"error": {"message": "Internal server error", "type": "internal_server_error"}})
        status, body = answer
        raise ApiError(status, copy.deepcopy(body))

    # -------------------------------------------------------------------- auth
    @staticmethod
    def _strip_bearer(value: str) -> str:
        for prefix in ("Bearer ", "Basic ", "bearer "):
            if value.startswith(prefix):
                return value.replace(prefix, "", 1)
        return ""

    def _api_key_from_headers(self, req: Request) -> str | None:
        custom = req.header("x-litellm-api-key")
        if custom is not None:
            stripped = self._strip_bearer(custom)
            return stripped if stripped else custom
        auth = req.header("Authorization")
        if auth:
            return self._strip_bearer(auth)
        for name in ("API-Key", "x-api-key", "x-goog-api-key", "Ocp-Apim-Subscription-Key"):
            value = req.header(name)
            if value is not None:
                return value
        return None

    def _auth_error(
        self, message: str, type_: str = "auth_error", param: str | None = "None", status: int = 401
    ) -> ApiError:
        return ProxyExc(message, type_, param, status).to_api_error()

    def resolve_key_row(self, hashed: str) -> dict[str, Any] | None:
        row = self.store.get_key(hashed)
        if row is not None:
            return row
        deprecated = self.store.get_deprecated(hashed)
        if deprecated is not None:
            active_token, revoke_at = deprecated
            if parse_dt(revoke_at) > self.now():
                return self.store.get_key(active_token)
        return None

    def authenticate(self, req: Request, route: Route) -> Principal:
        api_key = self._api_key_from_headers(req)
        if api_key is None:
            raise self._auth_error("Authentication Error, No api key passed in.")
        if api_key == "":
            raise self._auth_error(
                "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix."
            )
        if secrets.compare_digest(api_key.encode(), self.master_key.encode()):
            return Principal(is_admin=True, api_key=MASTER_KEY_ALIAS, user_id=PROXY_ADMIN_NAME, user_role="proxy_admin")
        if route.kind == "standin":
            raise self._auth_error("Authentication Error, stand-in control endpoints need the master key.")
        if not self.database:
            raise ApiError(400, copy.deepcopy(NO_DATABASE_AUTH))
        if not api_key.startswith("sk-"):
            masked = f"{api_key[:4]}****{api_key[-4:]}" if len(api_key) > 8 else "****"
            raise self._auth_error(f"LiteLLM Virtual Key expected. Received={masked}, expected to start with 'sk-'.")
        hashed = hash_token(api_key)
        row = self.resolve_key_row(hashed)
        if row is None:
            raise self._auth_error("Authentication Error, Invalid API key provided.", "token_not_found_in_db", "key")
        now = self.now()
        if row.get("blocked") is True:
            raise self._auth_error(
                "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin."
            )
        requested_model = None
        if route.kind == "llm" and isinstance(req.json, dict):
            requested_model = req.json.get("model")
        if requested_model is not None and row.get("models") and requested_model not in row["models"]:
            if "all-proxy-models" not in row["models"] and "*" not in row["models"]:
                raise ProxyExc(
                    "The requested model '{}' is not available for this API key, or the model name is invalid. "
                    "Check the models available to you and try again.".format(requested_model),
                    "key_model_access_denied",
                    "model",
                    403,
                ).to_api_error()
        expires = parse_dt(row.get("expires"))
        if expires is not None and expires < now:
            raise self._auth_error(
                f"Authentication Error - Expired Key. Key Expiry time {expires} and current time {now}",
                "expired_key",
                abbreviate_api_key(row["token"]),
            )
        team = self.store.get_team(row["team_id"]) if row.get("team_id") else None
        user = self.store.get_user(row["user_id"]) if row.get("user_id") else None
        if route.kind == "llm":
            max_budget = row.get("max_budget")
            spend = float(row.get("spend") or 0.0)
            if max_budget is not None and math.isfinite(max_budget) and spend >= max_budget:
                label = row.get("key_alias") or "key"
                key_name = row.get("key_name")
                descriptor = f"{label} ({key_name})" if key_name and key_name.startswith("sk-...") else label
                raise self._budget_error(
                    f"Budget has been exceeded! Key={descriptor} Current cost: {spend}, Max budget: {max_budget}"
                )
        if team is not None:
            if team.get("blocked") is True:
                raise self._auth_error(
                    f"Authentication Error, Team={team['team_id']} is blocked. Update via `/team/unblock` if you're an admin."
                )
            if (
                route.kind == "llm"
                and team.get("max_budget") is not None
                and float(team.get("spend") or 0) >= team["max_budget"]
            ):
                raise self._budget_error(
                    f"Budget has been exceeded! Team={team['team_id']} Current cost: {float(team.get('spend') or 0)}, Max budget: {team['max_budget']}"
                )
        if user is not None and route.kind == "llm":
            if user.get("max_budget") is not None and float(user.get("spend") or 0) >= user["max_budget"]:
                raise self._budget_error(
                    f"ExceededBudget: User={user['user_id']} over budget. Spend={float(user.get('spend') or 0)}, Budget={user['max_budget']}"
                )
        principal = Principal(
            is_admin=(user or {}).get("user_role") == "proxy_admin",
            api_key=api_key,
            user_id=row.get("user_id"),
            # _return_user_api_key_auth_obj: the user's role, else internal_user (also for a key without a user)
            user_role=(user or {}).get("user_role") or "internal_user",
            key_row=row,
        )
        if route.kind == "admin" and not principal.is_admin:
            if req.path in INFO_ROUTES:
                # RouteChecks.non_proxy_admin_allowed_routes_check: info routes pass; the endpoint decides
                if req.path == "/user/info":
                    asked = req.q("user_id")
                    if asked and asked != principal.user_id:
                        raise self._auth_error(
                            f"key not allowed to access this user's info. user_id={asked}, "
                            f"key's user_id={principal.user_id}",
                            status=403,
                        )
                return principal
            # _raise_admin_only_route_exception: role and (masked) user_id of the key's user row, else "unknown"
            role = (user or {}).get("user_role") or "unknown"
            masked = RouteChecks._mask_user_id((user or {}).get("user_id") or "unknown")
            raise self._auth_error(
                "Authentication Error, Only proxy admin can be used to generate, delete, update info for new "
                f"keys/users/teams. Route={req.path}. Your role={role}. Your user_id={masked}"
            )
        return principal

    @staticmethod
    def _budget_error(message: str) -> ApiError:
        # litellm.budget_exceeded_status_code is 422 in 1.108.7 (was 400, then 429, in older releases)
        return ProxyExc(message, "budget_exceeded", None, 422).to_api_error()

    # -------------------------------------------------------- shared helpers
    @staticmethod
    def _check_budget_duration(value: str | None) -> None:
        error = budget_duration_error(value)
        if error is not None:
            raise HTTPExc(400, {"error": error})

    @staticmethod
    def _check_non_negative(name: str, value: float | None) -> None:
        if value is not None and (not math.isfinite(value) or value < 0):
            raise HTTPExc(400, {"error": f"{name} must be a non-negative finite number. Received: {value}"})

    def _premium_check(self, feature: str | None = None) -> None:
        if not self.enterprise:
            raise premium_error(feature)

    def _validate_model_max_budget(self, model_max_budget: Mapping[str, Any] | None) -> None:
        if not model_max_budget:
            return
        if not self.enterprise:
            raise ValueError(
                "Invalid model_max_budget: You must have an enterprise license to set model_max_budget. "
                f"{NOT_PREMIUM}. Example of valid model_max_budget: https://docs.litellm.ai/docs/proxy/users"
            )

    def _validate_key_alias_format(self, key_alias: str | None) -> None:
        """_validate_key_alias_format: unsafe names always fail; the format rule only when enabled."""
        if key_alias is None:
            return
        try:
            raise_if_unsafe_secret_name(key_alias)
        except ValueError:
            raise ProxyExc(
                'Invalid key_alias: must not contain control characters (such as tab or newline) or a ".." path segment',
                "bad_request_error",
                "key_alias",
                400,
            ) from None
        if self.key_alias_format_validation and (
            len(key_alias) > 255 or KEY_ALIAS_PATTERN.fullmatch(key_alias) is None
        ):
            raise ProxyExc(KEY_ALIAS_PATTERN_MESSAGE, "bad_request_error", "key_alias", 400)

    def _enforce_unique_key_alias(self, key_alias: str | None, existing_token: str | None = None) -> None:
        if key_alias is None:
            return
        if self.store.find_keys_by_alias(key_alias, limit=1, exclude_token=existing_token):
            raise ProxyExc(
                f"Key with alias '{key_alias}' already exists. Unique key aliases across all keys are required.",
                "bad_request_error",
                "key_alias",
                400,
            )

    def _set_object_metadata_field(self, data: BaseModel, field_name: str, value: Any) -> None:
        if field_name in PREMIUM_FIELDS and value:
            self._premium_check(field_name)
        data.metadata = data.metadata or {}
        data.metadata[field_name] = value

    def _row_for_response(
        self, row: Mapping[str, Any], *, budget: bool = True, object_permission: bool = False
    ) -> dict[str, Any]:
        """A prisma row (columns + relation fields) as jsonable_encoder renders a python dict.

        Like LiteLLM's key reads (``include={"litellm_budget_table": True}``), the
        budget row a key points at is joined in; ``object_permission=True`` also
        joins its LiteLLM_ObjectPermissionTable row (key info, update, full list).
        """
        out = dict(row)
        for rel in KEY_RELATIONS:
            out.setdefault(rel, None)
        if budget and out.get("budget_id") and out.get("litellm_budget_table") is None:
            out["litellm_budget_table"] = self._budget_for_response(out["budget_id"])
        if object_permission and out.get("object_permission_id"):
            out["object_permission"] = self._object_permission_for_response(out["object_permission_id"])
        return out

    def _budget_for_response(self, budget_id: str | None) -> dict[str, Any] | None:
        """A LiteLLM_BudgetTable prisma row with its (not included) relation fields."""
        row = self.store.get_budget(budget_id) if budget_id else None
        if row is None:
            return None
        out = {name: row.get(name) for name in BUDGET_COLUMNS}
        if out.get("allowed_models") is None:
            out["allowed_models"] = []
        for rel in BUDGET_RELATIONS:
            out[rel] = None
        return out

    def _create_object_permission(self, permission: Mapping[str, Any] | None) -> str | None:
        """set_object_permission: a LiteLLM_ObjectPermissionTable row from the non-null fields; returns its id."""
        if not isinstance(permission, Mapping):
            return None
        row = copy.deepcopy(OBJECT_PERMISSION_COLUMNS)
        for name, value in permission.items():
            if value is not None and name in row and name != "object_permission_id":
                row[name] = value
        row["object_permission_id"] = str(uuid.uuid4())
        self.store.put_object_permission(row)
        return row["object_permission_id"]

    def _update_object_permission(self, existing_id: str | None, permission: Mapping[str, Any] | None) -> str | None:
        """_prepare_key_update_object_permission: upsert the row the key points at (new one if none)."""
        if not isinstance(permission, Mapping):
            return existing_id
        row = self.store.get_object_permission(existing_id) if existing_id else None
        if row is None:
            return self._create_object_permission(permission)
        for name, value in permission.items():
            if value is not None and name in row and name != "object_permission_id":
                row[name] = value
        self.store.put_object_permission(row)
        return existing_id

    def _object_permission_for_response(self, object_permission_id: str | None) -> dict[str, Any] | None:
        row = self.store.get_object_permission(object_permission_id) if object_permission_id else None
        if row is None:
            return None
        out = {name: row.get(name, default) for name, default in OBJECT_PERMISSION_COLUMNS.items()}
        for rel in OBJECT_PERMISSION_RELATIONS:
            out[rel] = None
        return out

    def _new_budget_row(self, now: datetime, changed_by: str | None, **values: Any) -> dict[str, Any]:
        """A LiteLLM_BudgetTable row (LiteLLM creates one to hold a key's soft_budget)."""
        row: dict[str, Any] = {name: None for name in BUDGET_COLUMNS}
        row.update(values)
        row["budget_id"] = str(uuid.uuid4())
        row["created_at"] = row["updated_at"] = iso(now)
        row["created_by"] = row["updated_by"] = changed_by or PROXY_ADMIN_NAME
        self.store.put_budget(row)
        return row

    @staticmethod
    def _z(row: Mapping[str, Any], dt_fields: tuple[str, ...]) -> dict[str, Any]:
        """Datetimes as pydantic's JSON mode writes them (``...Z``)."""
        out = dict(row)
        for name in dt_fields:
            value = out.get(name)
            if isinstance(value, str):
                out[name] = value.replace("+00:00", "Z")
        return out

    def _archive_keys(self, rows: list[dict[str, Any]], principal: Principal, changed_by: str | None) -> None:
        deleted_at = iso(self.now())
        for row in rows:
            record = {k: v for k, v in row.items() if k not in KEY_RELATIONS and k != "budget_limits"}
            record.update(
                {
                    "deleted_at": deleted_at,
                    "deleted_by": principal.user_id,
                    "deleted_by_api_key": (
                        hash_token(principal.api_key) if principal.api_key.startswith("sk-") else principal.api_key
                    ),
                    "litellm_changed_by": changed_by,
                    "id": str(uuid.uuid4()),  # LiteLLM_DeletedVerificationToken.id, shown by /key/info
                }
            )
            self.store.archive_key(record["id"], record)

    # ===================================================================== /key/*
    def _generate_key_row(
        self, *, request_type: str, now: datetime, **kw: Any
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """generate_key_helper_fn: returns (key_data as the endpoint sees it, key row, user_data)."""
        token = kw.get("token") or kw.get("key") or f"sk-{secrets.token_urlsafe(GENERATED_KEY_BYTES)}"
        duration = kw.get("duration")
        expires = None
        if duration is not None:
            expires = now + timedelta(seconds=duration_in_seconds(duration))  # ValueError -> 500 like LiteLLM
        key_budget_duration = kw.get("key_budget_duration")
        key_reset_at = get_budget_reset_time(key_budget_duration) if key_budget_duration is not None else None
        budget_duration = kw.get("budget_duration")
        reset_at = get_budget_reset_time(budget_duration) if budget_duration is not None else None
        budget_limits = kw.get("budget_limits")
        windows = None
        if budget_limits:
            windows = []
            for window in budget_limits:
                w = dict(window)
                w["reset_at"] = get_budget_reset_time(w["budget_duration"]).isoformat()
                windows.append(w)
        metadata = kw.get("metadata", {})
        limits = {
            name: kw.get(name)
            for name in (
                "model_rpm_limit",
                "model_tpm_limit",
                "mcp_rpm_limit",
                "tag_rpm_limit",
                "guardrails",
                "policies",
                "prompts",
            )
            if kw.get(name) is not None
        }
        merged_metadata = None if (metadata is None and not limits) else {**(metadata or {}), **limits}
        model_max_budget = kw.get("model_max_budget", {}) or {}
        self._validate_model_max_budget(model_max_budget)
        user_data = {
            "max_budget": kw.get("max_budget"),
            "user_email": kw.get("user_email"),
            "user_id": kw.get("user_id"),
            "user_alias": kw.get("user_alias"),
            "team_id": kw.get("team_id"),
            "organization_id": kw.get("organization_id"),
            "user_role": kw.get("user_role"),
            "spend": kw.get("spend", 0.0) or 0.0,
            "models": kw.get("models", []) or [],
            "metadata": merged_metadata,
            "max_parallel_requests": kw.get("max_parallel_requests"),
            "tpm_limit": kw.get("tpm_limit"),
            "rpm_limit": kw.get("rpm_limit"),
            "budget_duration": budget_duration,
            "budget_reset_at": reset_at,
            "allowed_cache_controls": kw.get("allowed_cache_controls", []),
            "sso_user_id": kw.get("sso_user_id"),
            "object_permission_id": kw.get("object_permission_id"),
        }
        if kw.get("teams") is not None:
            user_data["teams"] = kw["teams"]
        if model_max_budget:
            user_data["model_max_budget"] = model_max_budget
        key_data: dict[str, Any] = {
            "token": token,
            "key_alias": kw.get("key_alias"),
            "expires": expires,
            "models": kw.get("models", []) or [],
            "aliases": kw.get("aliases", {}) or {},
            "config": kw.get("config", {}) or {},
            "spend": kw.get("spend", 0.0) or 0.0,
            "max_budget": kw.get("key_max_budget"),
            "user_id": kw.get("user_id"),
            "team_id": kw.get("team_id"),
            "agent_id": kw.get("agent_id"),
            "project_id": kw.get("project_id"),
            "max_parallel_requests": kw.get("max_parallel_requests"),
            "metadata": merged_metadata,
            "tpm_limit": kw.get("tpm_limit"),
            "rpm_limit": kw.get("rpm_limit"),
            "tpd_limit": kw.get("tpd_limit"),
            "budget_duration": key_budget_duration,
            "budget_reset_at": key_reset_at,
            "allowed_cache_controls": kw.get("allowed_cache_controls", []),
            "permissions": kw.get("permissions", {}) or {},
            "model_max_budget": model_max_budget,
            "budget_fallbacks": kw.get("budget_fallbacks") or {},
            "organization_id": kw.get("organization_id"),
            "budget_id": kw.get("budget_id"),
            "blocked": kw.get("blocked"),
            "budget_limits": windows,
            "created_by": kw.get("created_by"),
            "updated_by": kw.get("updated_by"),
            "allowed_routes": kw.get("allowed_routes") or [],
            "key_type": kw.get("key_type"),
            "object_permission_id": kw.get("object_permission_id"),
            "router_settings": kw.get("router_settings") or {},
            "access_group_ids": kw.get("access_group_ids") or [],
        }
        if kw.get("auto_rotate") and kw.get("rotation_interval"):
            key_data["auto_rotate"] = True
            key_data["rotation_interval"] = kw["rotation_interval"]
            key_data["key_rotation_at"] = now + timedelta(seconds=duration_in_seconds(kw["rotation_interval"]))
        key_data["key_name"] = abbreviate_api_key(token)

        hashed = hash_token(token)
        row = copy.deepcopy(KEY_COLUMNS)
        for name, value in key_data.items():
            if name in row:
                row[name] = iso(value) if isinstance(value, datetime) else value
        row["token"] = hashed
        row["metadata"] = merged_metadata if merged_metadata is not None else {}
        row["created_at"] = row["updated_at"] = iso(now)
        key_data["token_id"] = hashed
        key_data["litellm_budget_table"] = None
        key_data["created_at"] = key_data["updated_at"] = now
        key_data["budget_id"] = kw.get("budget_id")
        return key_data, row, user_data

    def _insert_key_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """PrismaClient.insert_data: an upsert with ``update: {}``. A key value that already exists (a chosen
        ``key`` sent twice) leaves the stored row as it is and answers it, without an error."""
        existing = self.store.get_key(row["token"])
        if existing is not None:
            return existing
        self.store.insert_key(row)
        return row

    # ------------------------------------------ litellm_settings / general_settings key policies
    def _apply_default_key_generate_params(self, data: GenerateKeyRequest) -> None:
        """_common_key_generation_helper: litellm.default_key_generate_params fill what the caller left unset.

        Applied to every /key/generate, the master key's included (not to /user/new's key).
        An explicit ``budget_duration: null`` is kept; an explicit ``duration: null`` is not.
        """
        defaults = self.default_key_generate_params
        if defaults is None:
            return
        for name, value in list(data):
            if (
                value is None
                and (name != "budget_duration" or name not in data.model_fields_set)
                and name in DEFAULT_KEY_PARAM_FIELDS
            ):
                default = defaults.get(name)
                if default is not None:
                    setattr(data, name, default)
            elif name == "models" and value == []:
                setattr(data, name, defaults.get(name, []))
            elif name == "metadata" and value == {}:
                setattr(data, name, defaults.get(name, {}))

    def _enforce_upperbound_key_params(self, data: BaseModel, fill_defaults: bool) -> None:
        """_enforce_upperbound_key_params: NaN/inf always refused; then litellm.upperbound_key_generate_params
        fill unset fields (generate only) and refuse larger values with HTTP 400."""
        for name, value in data:
            if name in BUDGET_NUMERIC_KEYS and value is not None and not math.isfinite(value):
                raise HTTPExc(400, {"error": f"{name} must be a finite number. Received: {value}"})
        upper = self.upperbound_key_generate_params
        if upper is None:
            return
        for name, value in data:
            bound = getattr(upper, name, None)
            if bound is None:
                continue
            if value is None:
                if fill_defaults:
                    setattr(data, name, bound)
                continue
            over = False
            if name in ("max_budget", "max_parallel_requests", "tpm_limit", "rpm_limit"):
                over = value > bound
            elif name in ("budget_duration", "duration"):
                user_seconds = float("inf") if value == "-1" else duration_in_seconds(value)
                over = user_seconds > duration_in_seconds(bound)
            if over:
                raise HTTPExc(
                    400, {"error": f"{name} is over max limit set in config - user_value={value}; max_value={bound}"}
                )

    def _check_custom_key_allowed(self, custom_key: str | None) -> None:
        """general_settings.disable_custom_api_keys refuses a chosen key value (generate, regenerate's new_key)."""
        if custom_key is not None and self.disable_custom_api_keys:
            raise HTTPExc(403, {"error": CUSTOM_KEYS_DISABLED})

    def key_generate(self, req: Request, p: Principal, data: GenerateKeyRequest) -> tuple[int, Any]:
        now = self.now()
        self._check_non_negative("max_budget", data.max_budget)
        self._check_non_negative("soft_budget", data.soft_budget)
        self._check_budget_duration(data.budget_duration)
        self._apply_default_key_generate_params(data)
        self._enforce_upperbound_key_params(data, fill_defaults=True)
        for name in PREMIUM_FIELDS:
            if getattr(data, name, None) is not None:
                self._set_object_metadata_field(data, name, getattr(data, name))
                delattr(data, name)
        for name in META_FIELDS:
            if getattr(data, name, None) is not None:
                self._set_object_metadata_field(data, name, getattr(data, name))
                delattr(data, name)
        data_json = data.model_dump(exclude_unset=True, exclude_none=True)
        key_type = data.key_type
        if key_type is None:
            data_json.pop("key_type", None)
        else:
            data_json["key_type"] = key_type.value
            if key_type == LiteLLMKeyType.LLM_API:
                data_json["allowed_routes"] = ["llm_api_routes"]
            elif key_type == LiteLLMKeyType.MANAGEMENT:
                data_json["allowed_routes"] = ["management_routes"]
            elif key_type == LiteLLMKeyType.READ_ONLY:
                data_json["allowed_routes"] = ["info_routes"]
        if "max_budget" in data_json:
            data_json["key_max_budget"] = data_json.pop("max_budget")
        if "budget_duration" in data_json:
            data_json["key_budget_duration"] = data_json.pop("budget_duration")
        if p.user_id is not None:
            data_json["created_by"] = data_json["updated_by"] = p.user_id
        object_permission = data_json.pop("object_permission", None)
        default_permission = (self.default_key_generate_params or {}).get("object_permission")
        if isinstance(default_permission, dict):
            if object_permission is None:
                object_permission = dict(default_permission)
            elif isinstance(object_permission, dict):
                for name, value in default_permission.items():
                    object_permission.setdefault(name, value)
        alias = data_json.get("key_alias")
        with self.store.transaction():
            if isinstance(object_permission, dict):
                data_json["object_permission_id"] = self._create_object_permission(object_permission)
            self._validate_key_alias_format(alias)
            self._enforce_unique_key_alias(alias)
            self._check_custom_key_allowed(data.key)
            if data.key is not None and not data.key.startswith("sk-"):
                masked = f"{data.key[:4]}****{data.key[-4:]}" if len(data.key) > 8 else "****"
                raise HTTPExc(
                    400, {"error": f"Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: {masked}"}
                )
            if data.key is not None and len(data.key) < MINIMUM_CUSTOM_KEY_LENGTH:
                raise HTTPExc(
                    400,
                    {
                        "error": f"Invalid key format. LiteLLM Virtual Key must be at least {MINIMUM_CUSTOM_KEY_LENGTH} characters long."
                    },
                )
            kwargs = {k: v for k, v in data_json.items() if k not in ("soft_budget", "send_invite_email")}
            budget_row = None
            if data.soft_budget is not None:
                # generate_key_fn: the soft budget lives in a LiteLLM_BudgetTable row the key points at.
                budget_row = self._new_budget_row(
                    now, p.user_id, soft_budget=data.soft_budget, model_max_budget=data.model_max_budget or {}
                )
                kwargs["budget_id"] = budget_row["budget_id"]
            key_data, row, _unused = self._generate_key_row(request_type="key", now=now, **kwargs)
            stored = self._insert_key_row(row)
            # the upserted row is read back with include={"litellm_budget_table": True}; the rest of the answer
            # is what was asked for, even when the key value existed and nothing was written
            key_data["litellm_budget_table"] = self._budget_for_response(stored.get("budget_id"))
            key_data["created_at"], key_data["updated_at"] = stored["created_at"], stored["updated_at"]
        response = dict(key_data)
        response["soft_budget"] = data.soft_budget
        model = GenerateKeyResponse.model_validate(response)
        model.token = model.token_id
        return 200, model.model_dump(mode="json")

    def _get_and_validate_existing_key(self, token: str | None, key_alias: str | None) -> dict[str, Any]:
        if token is not None:
            row = self.store.get_key(hash_token_if_needed(token))
            if row is None:
                raise ProxyExc("Key not found.", "not_found_error", "key", 404)
            return row
        if key_alias is None:
            raise ProxyExc("either key or key_alias must be provided", "bad_request_error", "key", 400)
        rows = self.store.find_keys_by_alias(key_alias, limit=2)
        if not rows:
            raise ProxyExc(f"Key not found. No key with key_alias='{key_alias}'.", "not_found_error", "key_alias", 404)
        if len(rows) > 1:
            raise ProxyExc(
                f"Multiple keys share key_alias='{key_alias}', so it cannot be used as an identifier.",
                "bad_request_error",
                "key_alias",
                400,
            )
        return rows[0]

    def _prepare_key_update_data(
        self, data: UpdateKeyRequest | RegenerateKeyRequest, existing: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        data_json = data.model_dump(exclude_unset=True)
        for name in ("key", "new_key", "grace_period"):
            data_json.pop(name, None)
        if (
            data.metadata is not None
            and data.metadata.get("service_account_id") is not None
            and (data.team_id or existing.get("team_id")) is None
        ):
            raise HTTPExc(
                400, "team_id is required for service account keys. Please specify `team_id` in the request body."
            )
        for name in PREMIUM_FIELDS:
            if getattr(data, name, None) is not None:
                self._set_object_metadata_field(data, name, getattr(data, name))
        non_default: dict[str, Any] = {
            k: v for k, v in data_json.items() if k not in META_FIELDS and k not in PREMIUM_FIELDS
        }
        if "duration" in non_default:
            duration = non_default.pop("duration")
            if duration is None or duration == "-1":
                non_default["expires"] = None
            elif isinstance(duration, str) and duration:
                non_default["expires"] = now + timedelta(seconds=duration_in_seconds(duration))
        if "budget_duration" in non_default:
            budget_duration = non_default.pop("budget_duration")
            if budget_duration is None:
                non_default["budget_duration"] = None
                non_default["budget_reset_at"] = None
            elif isinstance(budget_duration, str) and budget_duration:
                non_default["budget_duration"] = budget_duration
                if not keeps_due_budget_reset(
                    budget_duration, existing.get("budget_duration"), parse_dt(existing.get("budget_reset_at"))
                ):
                    non_default["budget_reset_at"] = get_budget_reset_time(budget_duration)
        if "budget_limits" in non_default:
            raw = non_default["budget_limits"]
            if raw:
                windows = []
                for window in raw:
                    w = dict(window)
                    w["reset_at"] = get_budget_reset_time(w["budget_duration"]).isoformat()
                    windows.append(w)
                non_default["budget_limits"] = windows
            else:
                non_default["budget_limits"] = None
        if "model_max_budget" in non_default:
            self._validate_model_max_budget(non_default["model_max_budget"])
        # prepare_metadata_fields
        existing_metadata = dict(existing.get("metadata") or {})
        if "metadata" not in non_default:
            non_default["metadata"] = copy.deepcopy(existing_metadata)
        casted = non_default["metadata"]
        reserved_value = existing_metadata.get("service_account_id")
        if reserved_value is not None:
            if casted is None or ("service_account_id" in casted and casted["service_account_id"] != reserved_value):
                raise HTTPExc(400, "service_account_id is immutable once set and cannot be changed via update.")
            casted["service_account_id"] = reserved_value
        dj = data.model_dump(exclude_unset=True, exclude_none=True)
        try:
            for k, v in dj.items():
                if k in META_FIELDS:
                    casted[k] = v.isoformat() if isinstance(v, datetime) else v
                if k in PREMIUM_FIELDS:
                    casted[k] = v
        except Exception:  # LiteLLM swallows errors here too
            pass
        non_default["metadata"] = casted if casted is not None else {}
        return non_default

    def _apply_key_update(self, row: dict[str, Any], values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            if name not in KEY_COLUMNS or name == "token":
                continue
            row[name] = iso(value) if isinstance(value, datetime) else value

    def key_update(self, req: Request, p: Principal, data: UpdateKeyRequest) -> tuple[int, Any]:
        now = self.now()
        self._check_non_negative("max_budget", data.max_budget)
        self._check_non_negative("soft_budget", data.soft_budget)
        with self.store.transaction():
            existing = self._get_and_validate_existing_key(data.key, data.key_alias)
            key = data.key if data.key is not None else existing["token"]
            if data.spend is not None and not math.isfinite(data.spend):
                raise HTTPExc(400, {"error": f"spend must be a finite number. Received: {data.spend}"})
            self._check_budget_duration(data.budget_duration)
            if data.project_id is not None and data.project_id != existing.get("project_id"):
                raise HTTPExc(400, "Project reassignment is not supported. Use null to detach the key.")
            self._enforce_upperbound_key_params(data, fill_defaults=False)
            values = self._prepare_key_update_data(data, existing, now)
            new_alias = values.get("key_alias")
            if new_alias != existing.get("key_alias"):
                self._validate_key_alias_format(new_alias)
            self._enforce_unique_key_alias(values.get("key_alias"), existing_token=existing["token"])
            permission = values.pop("object_permission", None)
            if permission is not None:
                values["object_permission_id"] = self._update_object_permission(
                    existing.get("object_permission_id"), permission
                )
            if values.get("auto_rotate") and values.get("rotation_interval"):
                values["key_rotation_at"] = now + timedelta(seconds=duration_in_seconds(values["rotation_interval"]))
            if "soft_budget" in data.model_fields_set:
                # _update_key_soft_budget: update the key's budget row, or create one for a new soft budget.
                budget_id = existing.get("budget_id")
                budget = self.store.get_budget(budget_id) if budget_id else None
                if budget is not None:
                    budget.update(soft_budget=data.soft_budget, updated_by=p.user_id, updated_at=iso(now))
                    self.store.put_budget(budget)
                elif data.soft_budget is not None:
                    values["budget_id"] = self._new_budget_row(now, p.user_id, soft_budget=data.soft_budget)[
                        "budget_id"
                    ]
            row = copy.deepcopy(existing)
            self._apply_key_update(row, values)
            row["updated_at"] = row["settings_updated_at"] = iso(now)
            row["updated_by"] = p.user_id
            self.store.replace_key(existing["token"], row)
        # the updated row is read with include={"object_permission": True}: no budget row joined
        return 200, {"key": key, **self._row_for_response(row, budget=False, object_permission=True)}

    def key_delete(self, req: Request, p: Principal, data: KeyRequest) -> tuple[int, Any]:
        changed_by = req.header("litellm-changed-by")
        with self.store.transaction():
            if data.keys:
                hashed = [hash_token_if_needed(k) for k in data.keys]
                rows = self.store.find_keys_in("token", hashed)
                deleted = data.keys
            elif data.key_aliases:
                rows = self.store.find_keys_in("key_alias", data.key_aliases)
                deleted = data.key_aliases
            else:
                raise ValueError("Invalid request type")
            if not rows:
                raise HTTPExc(404, {"error": "No keys found"})
            self._archive_keys(rows, p, changed_by)
            self.store.delete_keys(r["token"] for r in rows)
        # LiteLLM echoes what was asked for, even when only some of it existed.
        return 200, {"deleted_keys": deleted}

    @staticmethod
    def _is_valid_api_key(key: str) -> bool:
        if not isinstance(key, str) or not 3 <= len(key) <= 100:
            return False
        return bool(re.match(r"^sk-[A-Za-z0-9_-]+$", key) or re.match(r"^[a-fA-F0-9]{64}$", key))

    def _set_blocked(self, p: Principal, data: BlockKeyRequest, blocked: bool) -> dict[str, Any]:
        if not self._is_valid_api_key(data.key):
            raise ProxyExc("Invalid key format.", "bad_request_error", "key", 400)
        hashed = hash_token(data.key) if data.key.startswith("sk-") else data.key
        with self.store.transaction():
            row = self.store.get_key(hashed)
            if row is None:
                raise ProxyExc("Key not found.", "not_found_error", "key", 404)
            row["blocked"] = blocked
            row["updated_at"] = row["settings_updated_at"] = iso(self.now())
            self.store.replace_key(hashed, row)
        return row

    def key_block(self, req: Request, p: Principal, data: BlockKeyRequest) -> tuple[int, Any]:
        row = self._set_blocked(p, data, True)
        # block_key is annotated -> LiteLLM_VerificationToken | None: FastAPI serializes through that model.
        model = LiteLLM_VerificationToken.model_validate(_with_datetimes(self._row_for_response(row), KEY_DT_FIELDS))
        return 200, model.model_dump(mode="json")

    def key_unblock(self, req: Request, p: Principal, data: BlockKeyRequest) -> tuple[int, Any]:
        row = self._set_blocked(p, data, False)
        return 200, self._z(self._row_for_response(row), KEY_DT_FIELDS)

    def _derive_status(self, row: Mapping[str, Any]) -> str:
        if row.get("blocked") is True:
            return "revoked"
        expires = parse_dt(row.get("expires"))
        if expires is None:
            return "active"
        return "expired" if expires < self.now() else "active"

    def key_info(self, req: Request, p: Principal) -> tuple[int, Any]:
        key = req.q("key") or (p.api_key if p is not None else None)
        hashed = hash_token_if_needed(key) if key is not None else None
        live = self.store.get_key(hashed) if hashed is not None else None
        if live is not None and not p.is_admin and p.key_row is not None:
            self._check_key_info_access(p, live)
        if live is not None:
            info = self._row_for_response(live, object_permission=True)
            info.pop("token", None)
            info["status"] = self._derive_status(live)
            return 200, {"key": key, "info": info}
        archived = self.store.latest_archived_key(hashed) if hashed is not None else None
        if archived is None:
            raise ProxyExc("Key not found in database", "not_found_error", "key", 404)
        if not p.is_admin and p.key_row is not None:
            self._check_key_info_access(p, archived)
        info = LiteLLM_DeletedVerificationToken.model_validate(_with_datetimes(archived, KEY_DT_FIELDS)).model_dump()
        info.pop("token", None)
        if info.get("object_permission_id"):  # attach_object_permission_to_dict
            info["object_permission"] = self._object_permission_for_response(info["object_permission_id"])
        info["status"] = "deleted"
        return 200, {"key": key, "info": info}

    def _check_key_info_access(self, p: Principal, row: Mapping[str, Any]) -> None:
        """_can_user_query_key_info: its own key, a key of the same user_id -- including None == None, so a
        key without a user reads every other key without one -- or a key of a team the caller belongs to."""
        if row.get("token") == p.key_row["token"] or row.get("user_id") == p.user_id:
            return
        team = self.store.get_team(row["team_id"]) if row.get("team_id") else None
        if team is not None and any(
            m.get("user_id") is not None and m.get("user_id") == p.user_id for m in team.get("members_with_roles", [])
        ):
            return
        raise HTTPExc(403, f"You are not allowed to access this key's info. Your role={p.user_role}")

    def key_list(self, req: Request, p: Principal) -> tuple[int, Any]:
        q = QueryParams(req)
        page = q.get("page", PageInt, 1)
        size = q.get("size", SizeInt, 10)
        user_id = q.get("user_id")
        team_id = q.get("team_id")
        organization_id = q.get("organization_id")
        key_hash = q.get("key_hash")
        key_alias = q.get("key_alias")
        search = q.get("search")
        return_full_object = q.get("return_full_object", bool, False)
        q.get("include_team_keys", bool, False)
        q.get("include_created_by_keys", bool, False)
        sort_by = q.get("sort_by")
        sort_order = q.get("sort_order", str, "desc")
        status = q.get("status")
        project_id = q.get("project_id")
        agent_id = q.get("agent_id")
        substring_matching = q.get("substring_matching", bool, False)
        expires = q.get("expires")
        q.raise_if_errors()
        if status is not None and status not in ("active", "expired", "revoked", "deleted"):
            raise HTTPExc(400, {"error": "Invalid status value. Supported: 'active', 'expired', 'revoked', 'deleted'."})
        if expires is not None and expires not in ("active", "expired"):
            raise HTTPExc(400, {"error": "Invalid expires value. Supported: 'active', 'expired'."})
        if sort_by is not None:
            if sort_by not in KEY_SORT_COLUMNS:
                raise HTTPExc(400, {"error": f"Invalid sort column. Must be one of: {', '.join(KEY_SORT_COLUMNS)}"})
            if sort_order.lower() not in ("asc", "desc"):
                raise HTTPExc(400, {"error": "Invalid sort order. Must be 'asc' or 'desc'"})
        if not p.is_admin:
            # validate_key_list_check: the caller's own user row must exist; only its own keys and teams
            def refuse(message: str, param: str) -> ProxyExc:
                return ProxyExc(message, "bad_request_error", param, 403)

            own = self.store.get_user(p.user_id) if p.user_id is not None else None
            if own is None:
                raise refuse(
                    "You are not authorized to access this endpoint. No 'user_id' is associated with your API key.",
                    "user_id",
                )
            if user_id and user_id != own["user_id"]:
                raise refuse("You are not authorized to check another user's keys", "user_id")
            if team_id and team_id not in (own.get("teams") or []):
                raise refuse("You are not authorized to check this team's keys", "team_id")
            if not user_id:
                user_id = p.user_id
        now_s = iso(self.now())
        where: list[tuple[str, list[Any]]] = [("team_id IS NULL OR team_id != ?", [UI_SESSION_TEAM_ID])]
        if user_id:
            if substring_matching and p.is_admin:
                where.append(("lower(user_id) LIKE ?", [f"%{user_id.lower()}%"]))
            else:
                where.append(("user_id = ?", [user_id]))
        if organization_id:
            where.append(("organization_id = ?", [organization_id]))
        if key_alias:
            if substring_matching:
                where.append(("lower(key_alias) LIKE ?", [f"%{key_alias.lower()}%"]))
            else:
                where.append(("key_alias = ?", [key_alias]))
        if key_hash:
            where.append(("token = ?", [key_hash]))
        if search:
            where.append(("token = ? OR lower(key_alias) LIKE ?", [search, f"%{search.lower()}%"]))
        if team_id:
            where.append(("team_id = ?", [team_id]))
        if project_id:
            where.append(("json_extract(doc, '$.project_id') = ?", [project_id]))
        if agent_id:
            where.append(("json_extract(doc, '$.agent_id') = ?", [agent_id]))
        if expires == "expired":
            where.append(("expires IS NOT NULL AND expires < ?", [now_s]))
        elif expires == "active":
            where.append(("expires IS NULL OR expires >= ?", [now_s]))
        if status == "revoked":
            where.append(("blocked = 1", []))
        elif status == "expired":
            where.append(("(blocked IS NULL OR blocked = 0) AND expires IS NOT NULL AND expires < ?", [now_s]))
        elif status == "active":
            where.append(("(blocked IS NULL OR blocked = 0) AND (expires IS NULL OR expires >= ?)", [now_s]))
        table = "deleted_keys" if status == "deleted" else "keys"
        rows, total = self.store.list_keys(
            table=table, where=where, order_by=sort_by, order=sort_order, limit=size, offset=(page - 1) * size
        )
        keys: list[Any] = []
        for row in rows:
            if return_full_object:
                if table == "deleted_keys":
                    keys.append(
                        LiteLLM_DeletedVerificationToken.model_validate(_with_datetimes(row, KEY_DT_FIELDS)).model_dump(
                            mode="json"
                        )
                    )
                else:
                    auth = UserAPIKeyAuth(
                        **_with_datetimes(self._row_for_response(row, object_permission=True), KEY_DT_FIELDS)
                    )
                    keys.append(auth.model_dump(mode="json"))
            else:
                keys.append(row["token"])
        return 200, {"keys": keys, "total_count": total, "current_page": page, "total_pages": -(-total // size)}

    def key_regenerate(
        self, req: Request, p: Principal, data: RegenerateKeyRequest | None, key: str | None = None
    ) -> tuple[int, Any]:
        if key is None:
            key = req.q("key")  # POST /key/regenerate?key=... (a query parameter in LiteLLM's signature)
        target = data.key if data is not None and data.key else key
        is_master_regen = (
            data is not None
            and data.new_master_key is not None
            and target is not None
            and secrets.compare_digest(target.encode(), self.master_key.encode())
        )
        if not self.enterprise and not is_master_regen:
            raise ValueError(f"Regenerating Virtual Keys is an Enterprise feature, {NOT_PREMIUM}")
        key = target
        if not key:
            raise HTTPExc(400, {"error": "No key passed in."})
        if not self.database:
            raise HTTPExc(500, {"error": "DB not connected. prisma_client is None"})
        if secrets.compare_digest(key.encode(), self.master_key.encode()) and data is not None:
            if data.new_master_key is None:
                raise HTTPExc(400, {"error": "New master key is required."})
            self.master_key = data.new_master_key
            model = GenerateKeyResponse(
                key=data.new_master_key, token=data.new_master_key, key_name=data.new_master_key, expires=None
            )
            return 200, model.model_dump(mode="json")
        hashed = key if "sk" not in key else hash_token(key)
        now = self.now()
        with self.store.transaction():
            existing = self.store.get_key(hashed)
            if existing is None:
                raise HTTPExc(404, {"error": f"Key {key} not found."})
            if data is not None and data.new_key is not None:
                self._check_custom_key_allowed(data.new_key)  # get_new_token
                if not data.new_key.startswith("sk-"):
                    raise HTTPExc(
                        400,
                        {
                            "error": "New key must start with 'sk-'. This is to distinguish a key hash (used by litellm for logging / internal logic) "
                            "from the actual key."
                        },
                    )
                if len(data.new_key) < MINIMUM_CUSTOM_KEY_LENGTH:
                    raise HTTPExc(
                        400, {"error": f"New key must be at least {MINIMUM_CUSTOM_KEY_LENGTH} characters long."}
                    )
                new_token = data.new_key
            else:
                new_token = f"sk-{secrets.token_urlsafe(GENERATED_KEY_BYTES)}"
            new_hash = hash_token(new_token)
            if new_hash != hashed and self.store.get_key(new_hash) is not None:
                raise HTTPExc(500, {"error": "Internal Server Error."})
            values: dict[str, Any] = {}
            if data is not None:
                self._enforce_upperbound_key_params(data, fill_defaults=False)
                values = self._prepare_key_update_data(data, existing, now)
                new_alias = values.get("key_alias")
                if new_alias != existing.get("key_alias"):
                    self._validate_key_alias_format(new_alias)
            self._archive_keys([existing], p, req.header("litellm-changed-by"))
            grace = data.grace_period if data is not None else None
            grace = grace or os.environ.get("LITELLM_KEY_ROTATION_GRACE_PERIOD", "")
            if grace:
                try:
                    grace_seconds = duration_in_seconds(grace)
                except ValueError:
                    grace_seconds = 0
                if grace_seconds > 0:
                    self.store.set_deprecated(hashed, new_hash, iso(now + timedelta(seconds=grace_seconds)))
            self.store.repoint_deprecated(hashed, new_hash)
            row = copy.deepcopy(existing)
            self._apply_key_update(row, values)
            row["token"] = new_hash
            row["key_name"] = abbreviate_api_key(new_token)
            row["updated_at"] = row["settings_updated_at"] = iso(now)
            self.store.replace_key(hashed, row)
        response = {k: v for k, v in self._row_for_response(row).items() if k != "token"}
        response["key"] = new_token
        response["token_id"] = new_hash
        model = GenerateKeyResponse.model_validate(_with_datetimes(response, KEY_DT_FIELDS))
        return 200, model.model_dump(mode="json")

    # ===================================================================== /user/*
    def _user_response_row(self, row: Mapping[str, Any], **included: Any) -> dict[str, Any]:
        """A LiteLLM_UserTable prisma row: columns plus relation fields (None unless ``included``)."""
        out = dict(row)
        for rel in USER_RELATIONS:
            out.setdefault(rel, None)
        out.update(included)
        return out

    def _add_user_to_team(self, user_id: str, team_id: str, role: str = "user", user_email: str | None = None) -> None:
        team = self.store.get_team(team_id)
        if team is None:
            return  # LiteLLM logs "doesn't exist" and carries on
        members = team.setdefault("members_with_roles", [])
        if not any(m.get("user_id") == user_id for m in members):
            members.append({"user_id": user_id, "user_email": user_email, "role": role})
            team["updated_at"] = iso(self.now())
            self.store.put_team(team)
        user = self.store.get_user(user_id)
        if user is not None and team_id not in user.get("teams", []):
            user["teams"] = [*user.get("teams", []), team_id]
            self.store.put_user(user)
        if user is not None:
            self._add_team_membership(user_id, team_id)

    def _add_team_membership(self, user_id: str, team_id: str) -> None:
        """A LiteLLM_TeamMembership row (upsert: an existing one is kept)."""
        self.store.put_team_membership(
            {"user_id": user_id, "team_id": team_id, "budget_id": None, "spend": 0.0, "total_spend": 0.0}
        )

    def _add_new_member(self, user_id: str | None, user_email: str | None, team_id: str) -> dict[str, Any] | None:
        """management_helpers.utils.add_new_member: upsert the user (an unknown user_id or e-mail gets a
        new internal_user row), add the team to its ``teams``, and add a team membership row."""
        if user_id is None:
            if user_email is None:
                return None
            user = self.store.find_user_by_email(user_email)
            user_id = user["user_id"] if user is not None else str(uuid.uuid4())
        else:
            user = self.store.get_user(user_id)
        if user is None:
            now = iso(self.now())
            user = {
                **copy.deepcopy(USER_COLUMNS),
                "user_id": user_id,
                "user_email": user_email,
                "user_role": "internal_user",
                "teams": [team_id],
                "created_at": now,
                "updated_at": now,
            }
        elif team_id not in user.get("teams", []):
            user["teams"] = [*user.get("teams", []), team_id]
        self.store.put_user(user)
        self._add_team_membership(user_id, team_id)
        return user

    def user_new(self, req: Request, p: Principal, data: NewUserRequest) -> tuple[int, Any]:
        now = self.now()
        self._check_budget_duration(data.budget_duration)
        with self.store.transaction():
            if data.user_id and self.store.get_user(data.user_id.strip()) is not None:
                raise HTTPExc(409, {"error": f"User with id {data.user_id.strip()} already exists"})
            if data.user_email:
                existing = self.store.find_user_by_email(data.user_email)
                if existing is not None:
                    raise HTTPExc(409, {"error": f"User with email {existing.get('user_email')} already exists"})
            data_json = data.model_dump()
            if data_json.get("user_id") is None:
                data_json["user_id"] = str(uuid.uuid4())
            auto_create_key = data_json.pop("auto_create_key", True)
            teams = data_json.pop("teams", None)
            for name in ("object_permission", "password", "organizations", "send_invite_email"):
                data_json.pop(name, None)
            key_data, key_row, user_data = self._generate_key_row(request_type="user", now=now, **data_json)
            user_row = copy.deepcopy(USER_COLUMNS)
            for name, value in user_data.items():
                if name in user_row:
                    user_row[name] = iso(value) if isinstance(value, datetime) else value
            user_row["metadata"] = user_data["metadata"] if user_data["metadata"] is not None else {}
            user_row["created_at"] = user_row["updated_at"] = iso(now)
            self.store.put_user(user_row)
            response: dict[str, Any]
            if auto_create_key is not False:
                # new_user calls generate_key_helper_fn without created_by/updated_by: both stay null
                self._insert_key_row(key_row)
                response = {**key_data, **user_data}
            else:
                response = dict(user_data)
            attached: list[str] | None = None
            if data.team_id is not None:
                self._add_user_to_team(user_row["user_id"], data.team_id, user_email=data.user_email)
                attached = list(self.store.get_user(user_row["user_id"]).get("teams", []))
            elif teams is not None:
                for team in teams:
                    tid = team if isinstance(team, str) else team["team_id"]
                    role = "user" if isinstance(team, str) else team.get("user_role", "user")
                    self._add_user_to_team(user_row["user_id"], tid, role=role, user_email=data.user_email)
                attached = list(self.store.get_user(user_row["user_id"]).get("teams", []))
        response_dict = {
            k: v for k, v in response.items() if k in NewUserResponse.model_fields and k not in ("token", "token_id")
        }
        response_dict["key"] = response.get("token", "")
        if attached is not None:
            response_dict["teams"] = attached
        return 200, NewUserResponse.model_validate(response_dict).model_dump(mode="json")

    @staticmethod
    def _user_id_from_raw_query(req: Request) -> str | None:
        """get_user_id_from_request: the first ``user_id=`` of the raw query, decoded with ``unquote``."""
        if "user_id=" not in req.raw_query:
            return None
        match = re.search(r"user_id=([^&]*)", req.raw_query)
        if match is None:
            return None
        user_id = unquote(match.group(1))  # unquote, not unquote_plus: a '+' stays a '+'
        if len(user_id) > MAX_USER_ID_LENGTH or any(ord(ch) < 0x20 for ch in user_id):
            return None
        return user_id

    def user_info(self, req: Request, p: Principal) -> tuple[int, Any]:
        user_id = req.q("user_id")  # FastAPI's decoding: a '+' is a space
        if user_id is not None and " " in user_id:
            # _normalize_user_info_user_id: a decoded space sends LiteLLM back to the raw query, so
            # "a b" sent as a+b is looked up as "a+b" (not found), and only a%20b finds "a b".
            user_id = self._user_id_from_raw_query(req)
        if user_id is None and p.is_admin:
            keys = [
                LiteLLM_VerificationToken.model_validate(_with_datetimes(r, KEY_DT_FIELDS)).model_dump(mode="json")
                for r in self.store.list_keys(
                    where=[("team_id IS NULL OR team_id != ?", [UI_SESSION_TEAM_ID])], limit=-1, offset=0
                )[0]
            ]
            teams = sorted(
                (
                    LiteLLM_TeamTable.model_validate(_with_datetimes(t, TEAM_DT_FIELDS)).model_dump(mode="json")
                    for t in self.store.all_teams()
                ),
                key=lambda t: t.get("team_alias") or "",
            )
            return 200, {"user_id": p.user_id, "user_info": None, "keys": keys, "teams": teams}
        if user_id is None:
            user_id = p.user_id
        row = self.store.get_user(user_id) if user_id is not None else None
        if row is None:
            raise HTTPExc(404, f"User {user_id} not found")
        member_of = {
            t["team_id"]: t
            for t in self.store.all_teams()
            if any(m.get("user_id") == user_id for m in t.get("members_with_roles", []))
        }
        keys = []
        for k in self.store.find_keys_in("user_id", [user_id]):
            if k.get("team_id") == UI_SESSION_TEAM_ID:
                continue
            out = self._row_for_response(k)
            # _process_keys_for_user_info: the alias of a team the user is a member of, None for another
            # team, and the *string* "None" for a key without a team.
            if k.get("team_id") is None:
                out["team_alias"] = "None"
            else:
                out["team_alias"] = (member_of.get(k["team_id"]) or {}).get("team_alias")
            keys.append(out)
        teams = [
            self._team_list_object(t, user_id=user_id)
            for t in self.store.all_teams()
            if t["team_id"] in row.get("teams", []) or t["team_id"] in member_of
        ]
        teams.sort(key=lambda t: t.get("team_alias") or "")
        info = self._user_response_row(row, organization_memberships=[])  # get_data includes the memberships
        info.pop("password", None)
        info["model_max_budget_usage"] = {}  # build_model_max_budget_usage: no model_max_budget usage cached
        return 200, {"user_id": user_id, "user_info": info, "keys": keys, "teams": teams}

    def user_update(self, req: Request, p: Principal, data: UpdateUserRequest) -> tuple[int, Any]:
        now = self.now()
        data_json = data.model_dump(exclude_unset=True)
        fields_set = data.model_fields_set
        non_default: dict[str, Any] = {}
        for k, v in data_json.items():
            if k in ("max_budget", "budget_duration", "tpm_limit", "rpm_limit"):
                if k in fields_set:
                    non_default[k] = v
            elif k == "model_max_budget":
                non_default[k] = {} if v is None else v
            elif v is not None and v not in ([], {}) and k not in META_FIELDS:
                non_default[k] = v
        if "budget_duration" in non_default:
            self._check_budget_duration(non_default["budget_duration"])
            non_default["budget_reset_at"] = (
                get_budget_reset_time(non_default["budget_duration"])
                if non_default["budget_duration"] is not None
                else None
            )
        non_default.pop("password", None)
        with self.store.transaction():
            existing = None
            if data.user_id:
                existing = self.store.get_user(data.user_id)
            elif data.user_email:
                existing = self.store.find_user_by_email(data.user_email)
            if (
                existing is not None
                and "budget_reset_at" in non_default
                and isinstance(non_default.get("budget_duration"), str)
            ):
                if keeps_due_budget_reset(
                    non_default["budget_duration"],
                    existing.get("budget_duration"),
                    parse_dt(existing.get("budget_reset_at")),
                ):
                    del non_default["budget_reset_at"]
            existing_metadata = dict((existing or {}).get("metadata") or {})
            if "metadata" not in non_default:
                non_default["metadata"] = copy.deepcopy(existing_metadata)
            metadata = non_default["metadata"] or {}
            for k, v in data.model_dump(exclude_unset=True, exclude_none=True).items():
                if k in META_FIELDS or k in PREMIUM_FIELDS:
                    metadata[k] = v
            non_default["metadata"] = metadata
            spend = non_default.get("spend")
            if spend is not None and not math.isfinite(spend):
                raise HTTPExc(400, {"error": f"spend must be a finite number. Received: {spend}"})
            if data.user_id:
                row = (
                    existing
                    if existing is not None
                    else {**copy.deepcopy(USER_COLUMNS), "user_id": data.user_id, "created_at": iso(now)}
                )
            elif existing is not None:
                row = existing
            else:
                row = {
                    **copy.deepcopy(USER_COLUMNS),
                    "user_id": str(uuid.uuid4()),
                    "user_email": data.user_email,
                    "created_at": iso(now),
                }
            for name, value in non_default.items():
                if name in USER_COLUMNS and name != "user_id":
                    row[name] = iso(value) if isinstance(value, datetime) else value
            row["updated_at"] = iso(now)
            self.store.put_user(row)
        return 200, {"user_id": row["user_id"], "data": self._z(self._user_response_row(row), USER_DT_FIELDS)}

    def user_delete(self, req: Request, p: Principal, data: DeleteUserRequest) -> tuple[int, Any]:
        with self.store.transaction():
            for user_id in data.user_ids:
                if self.store.get_user(user_id) is None:
                    raise HTTPExc(404, {"error": f"User not found, passed user_id={user_id}"})
            keys = self.store.find_keys_in("user_id", data.user_ids)
            self.store.delete_keys(k["token"] for k in keys)
            ids = set(data.user_ids)
            for team in self.store.all_teams():
                members = [m for m in team.get("members_with_roles", []) if m.get("user_id") not in ids]
                if len(members) != len(team.get("members_with_roles", [])) or ids & set(
                    team.get("members", []) + team.get("admins", [])
                ):
                    team["members_with_roles"] = members
                    team["members"] = [m for m in team.get("members", []) if m not in ids]
                    team["admins"] = [m for m in team.get("admins", []) if m not in ids]
                    self.store.put_team(team)
            self.store.delete_team_memberships(user_ids=ids)
            deleted = self.store.delete_users(ids)
        return 200, deleted

    def user_list(self, req: Request, p: Principal) -> tuple[int, Any]:
        q = QueryParams(req)
        role = q.get("role")
        user_ids = q.get("user_ids")
        sso_user_ids = q.get("sso_user_ids")
        user_email = q.get("user_email")
        search = q.get("search")
        team = q.get("team")
        page = q.get("page", PageInt, 1)
        page_size = q.get("page_size", SizeInt, 25)
        sort_by = q.get("sort_by")
        sort_order = q.get("sort_order", str, "asc")
        q.get("organization_ids")
        q.raise_if_errors()
        valid_sort = ("user_id", "user_email", "created_at", "spend", "user_alias", "user_role")
        if sort_by is not None:
            if sort_by not in valid_sort:
                raise HTTPExc(400, {"error": f"Invalid sort column. Must be one of: {', '.join(valid_sort)}"})
            if sort_order.lower() not in ("asc", "desc"):
                raise HTTPExc(400, {"error": "Invalid sort order. Must be 'asc' or 'desc'"})
        users = self.store.all_users()

        def keep(u: Mapping[str, Any]) -> bool:
            if role and u.get("user_role") != role:
                return False
            if user_ids:
                ids = [x.strip() for x in user_ids.split(",") if x.strip()]
                if len(ids) == 1 and ids[0].lower() not in (u.get("user_id") or "").lower():
                    return False
                if len(ids) > 1 and u.get("user_id") not in ids:
                    return False
            if user_email is not None and user_email.lower() not in (u.get("user_email") or "").lower():
                return False
            if team is not None and team not in (u.get("teams") or []):
                return False
            if sso_user_ids is not None and u.get("sso_user_id") not in [x.strip() for x in sso_user_ids.split(",")]:
                return False
            if search:
                s = search.lower()
                if s not in (u.get("user_id") or "").lower() and s not in (u.get("user_email") or "").lower():
                    return False
            return True

        users = [u for u in users if keep(u)]
        if sort_by is not None:
            users.sort(
                key=lambda u: (
                    u.get(sort_by) is None,
                    u.get(sort_by) or 0 if sort_by == "spend" else str(u.get(sort_by) or ""),
                ),
                reverse=sort_order.lower() == "desc",
            )
        total = len(users)
        window = users[(page - 1) * page_size : page * page_size]
        key_counts: dict[str, int] = {}
        for k in self.store.find_keys_in("user_id", [u["user_id"] for u in window]):
            key_counts[k["user_id"]] = key_counts.get(k["user_id"], 0) + 1
        out = [
            LiteLLM_UserTableWithKeyCount.model_validate(
                {**_with_datetimes(u, USER_DT_FIELDS), "key_count": key_counts.get(u["user_id"], 0)}
            ).model_dump(mode="json")
            for u in window
        ]
        return 200, {
            "users": out,
            "total": total,
            "page": page,
            "page_size": page_size,
            "total_pages": -(-total // page_size),
        }

    # ===================================================================== /team/*
    def _team_list_object(self, team: Mapping[str, Any], user_id: str | None = None) -> dict[str, Any]:
        """list_team's TeamListResponseObject: ``keys`` are the team's raw prisma rows (no relation
        included), ``team_memberships`` the team's membership rows (only ``user_id``'s when given)."""
        keys = [self._row_for_response(k, budget=False) for k in self.store.find_keys_in("team_id", [team["team_id"]])]
        memberships = [
            LiteLLM_TeamMembership.model_validate({**m, "litellm_budget_table": None})
            for m in self.store.team_memberships(team["team_id"])
            if user_id is None or m["user_id"] == user_id
        ]
        obj = TeamListResponseObject(**_with_datetimes(team, TEAM_DT_FIELDS), team_memberships=memberships, keys=keys)
        return obj.model_dump(mode="json")

    def team_new(self, req: Request, p: Principal, data: NewTeamRequest) -> tuple[int, Any]:
        now = self.now()
        self._check_non_negative("max_budget", data.max_budget)
        self._check_non_negative("team_member_budget", data.team_member_budget)
        self._check_non_negative("soft_budget", data.soft_budget)
        self._check_budget_duration(data.budget_duration)
        self._check_budget_duration(data.team_member_budget_duration)
        if data.model_max_budget and not self.enterprise:
            raise premium_error("model_max_budget")
        with self.store.transaction():
            if data.team_id is None:
                data.team_id = str(uuid.uuid4())
            else:
                if data.team_id == UI_SESSION_TEAM_ID:
                    raise HTTPExc(
                        400,
                        {
                            "error": f"team_id '{UI_SESSION_TEAM_ID}' is reserved for LiteLLM UI dashboard sessions and cannot be used for a real team. "
                            "Please use a different team id."
                        },
                    )
                if self.store.get_team(data.team_id) is not None:
                    raise HTTPExc(
                        400, {"error": f"Team id = {data.team_id} already exists. Please use a different team id."}
                    )
            metadata = dict(data.metadata or {})
            for name in PREMIUM_FIELDS + META_FIELDS:
                value = getattr(data, name, None)
                if value is not None:
                    if name in PREMIUM_FIELDS and value:
                        self._premium_check(name)
                    metadata[name] = value
            dumped = data.model_dump(exclude_none=True)
            row = copy.deepcopy(TEAM_COLUMNS)
            for name, value in dumped.items():
                if name in row:
                    row[name] = value
            row["metadata"] = metadata
            members = list(data.members_with_roles)
            # _should_auto_add_team_creator: the caller (the master key's user "default_user_id" too)
            # becomes an admin member unless general_settings.disable_auto_add_proxy_admin_to_teams.
            if p.user_id is not None and not any(m.user_id == p.user_id for m in members):
                members.append(Member(role="admin", user_id=p.user_id))
            row["members_with_roles"] = []  # filled below, like _add_team_members_to_team
            if data.budget_duration is not None:
                row["budget_reset_at"] = iso(get_budget_reset_time(data.budget_duration))
            if data.budget_limits:
                row["budget_limits"] = [
                    {**w.model_dump(mode="json"), "reset_at": get_budget_reset_time(w.budget_duration).isoformat()}
                    for w in data.budget_limits
                ]
            row["router_settings"] = data.router_settings or {}
            row["model_max_budget"] = dumped.get("model_max_budget") or {}
            row["created_at"] = row["updated_at"] = iso(now)
            self.store.put_team(row)
            resolved = []
            for member in members:
                entry = member.model_dump(mode="json")
                user = self._add_new_member(member.user_id, member.user_email, row["team_id"])
                if user is not None:  # _resolve_member_identity: fill in what the caller left out
                    entry["user_id"] = entry.get("user_id") or user["user_id"]
                    entry["user_email"] = entry.get("user_email") or user.get("user_email")
                if not any(
                    (entry["user_id"] and e["user_id"] == entry["user_id"])
                    or (entry["user_email"] and e["user_email"] == entry["user_email"])
                    for e in resolved
                ):
                    resolved.append(entry)
            row["members_with_roles"] = resolved
            self.store.put_team(row)
        return 200, LiteLLM_TeamTable.model_validate(_with_datetimes(row, TEAM_DT_FIELDS)).model_dump(mode="json")

    def team_update(self, req: Request, p: Principal, data: UpdateTeamRequest) -> tuple[int, Any]:
        now = self.now()
        self._check_non_negative("max_budget", data.max_budget)
        self._check_non_negative("team_member_budget", data.team_member_budget)
        self._check_non_negative("soft_budget", data.soft_budget)
        with self.store.transaction():
            existing = self.store.get_team(data.team_id)
            if existing is None:
                raise HTTPExc(404, {"error": f"Team not found, passed team_id={data.team_id}"})
            self._check_budget_duration(data.budget_duration)
            updated = data.model_dump(exclude_unset=True)
            if updated.get("require_trace_id") is None:
                updated.pop("require_trace_id", None)
            if "model_max_budget" in updated and updated["model_max_budget"] is None:
                updated["model_max_budget"] = {}
            if updated.get("model_max_budget") and not self.enterprise:
                raise premium_error("model_max_budget")
            if "budget_duration" in updated:
                bd = updated["budget_duration"]
                updated["budget_reset_at"] = iso(get_budget_reset_time(bd)) if bd else None
            writes_meta = any(f in updated for f in (*META_FIELDS, *PREMIUM_FIELDS))
            if "metadata" not in updated and writes_meta:
                updated["metadata"] = copy.deepcopy(existing.get("metadata") or {})
            for name in (*PREMIUM_FIELDS, *META_FIELDS):
                if name in updated and updated[name] is not None:
                    if name in PREMIUM_FIELDS and updated[name]:
                        self._premium_check()
                    value = updated.pop(name)
                    if updated.get("metadata") is not None:
                        updated["metadata"][name] = value
                    else:
                        updated["metadata"] = {name: value}
            row = copy.deepcopy(existing)
            for name, value in updated.items():
                if name in TEAM_COLUMNS and name != "team_id":
                    row[name] = value
            if row.get("metadata") is None:
                row["metadata"] = {}
            row["updated_at"] = iso(now)
            self.store.put_team(row)
        data_out = self._z(row, TEAM_DT_FIELDS)
        for rel in TEAM_RELATIONS:  # the updated prisma row's relation fields (not included)
            data_out.setdefault(rel, None)
        return 200, {"team_id": row["team_id"], "data": data_out}

    @staticmethod
    def _validate_team_membership(p: Principal, team: Mapping[str, Any]) -> None:
        """team_endpoints.validate_membership: admins, the team's own keys and its members may read it."""
        if p.is_admin:
            return
        key_team = (p.key_row or {}).get("team_id")
        if key_team == team["team_id"]:
            return
        if p.user_id is None:
            if key_team is not None:
                raise HTTPExc(
                    403, {"error": f"Team key for team={key_team} not authorized to access this team={team['team_id']}"}
                )
            raise HTTPExc(
                403,
                {
                    "error": f"API key not authorized to access this team={team['team_id']}. "
                    "No user_id or team_id associated with this key."
                },
            )
        if p.user_id in [m.get("user_id") for m in team.get("members_with_roles", [])]:
            return
        raise HTTPExc(403, {"error": f"User={p.user_id} not authorized to access this team={team['team_id']}"})

    def team_info(self, req: Request, p: Principal) -> tuple[int, Any]:
        q = QueryParams(req)
        team_id = q.get("team_id")
        key_limit = q.get("key_limit", PositiveInt, None)
        q.raise_if_errors()
        if team_id is None:
            raise HTTPExc(422, {"message": "Malformed request. No team id passed in."})
        team = self.store.get_team(team_id)
        if team is None:
            raise HTTPExc(404, {"message": f"Team not found, passed team id: {team_id}."})
        self._validate_team_membership(p, team)
        now_s = iso(self.now())
        keys = [
            self._row_for_response(k)
            for k in self.store.find_keys_in("team_id", [team_id])
            if k.get("expires") is None or k["expires"] > now_s
        ]
        if key_limit is not None:
            keys = keys[:key_limit]
        team_info = TeamInfoResponseObjectTeamTable.model_validate(_with_datetimes(team, TEAM_DT_FIELDS)).model_dump(
            mode="json"
        )
        if team.get("object_permission_id"):
            team_info["object_permission"] = self._object_permission_for_response(team["object_permission_id"])
        # _hydrate_member_user_details: user_alias (and a missing user_email) from the user rows
        hydrated = []
        for member in team_info.get("members_with_roles") or []:
            user = self.store.get_user(member["user_id"]) if member.get("user_id") else None
            hydrated.append(
                {
                    "user_id": member.get("user_id"),
                    "user_email": member.get("user_email") or (user or {}).get("user_email"),
                    "role": member.get("role"),
                    "user_alias": (user or {}).get("user_alias"),
                }
            )
        team_info["members_with_roles"] = hydrated
        team_info["model_max_budget_usage"] = {}
        # _caller_edit_access: a proxy admin may change everything; others are modelled as "none"
        team_info["caller_edit_access"] = {"kind": "unrestricted"} if p.is_admin else {"kind": "none"}
        memberships = [
            {**m, "litellm_budget_table": None, "budget_source": "none"} for m in self.store.team_memberships(team_id)
        ]
        return 200, {"team_id": team_id, "team_info": team_info, "keys": keys, "team_memberships": memberships}

    def team_delete(self, req: Request, p: Principal, data: DeleteTeamRequest) -> tuple[int, Any]:
        with self.store.transaction():
            for team_id in data.team_ids:
                if self.store.get_team(team_id) is None:
                    raise HTTPExc(404, {"error": f"Team not found, passed team_id={team_id}"})
            keys = self.store.find_keys_in("team_id", data.team_ids)
            if keys:
                self._archive_keys(keys, p, req.header("litellm-changed-by"))
                self.store.delete_keys(k["token"] for k in keys)
            self.store.delete_team_memberships(team_ids=data.team_ids)
            ids = set(data.team_ids)
            for user in self.store.all_users():
                if ids & set(user.get("teams") or []):
                    user["teams"] = [t for t in user["teams"] if t not in ids]
                    self.store.put_user(user)
            self.store.delete_teams(ids)
        return 200, {"deleted_teams": data.team_ids}

    def team_list(self, req: Request, p: Principal) -> tuple[int, Any]:
        q = QueryParams(req)
        user_id = q.get("user_id")
        organization_id = q.get("organization_id")
        q.raise_if_errors()
        teams = self.store.all_teams()
        if user_id:
            user = self.store.get_user(user_id)
            user_teams = set((user or {}).get("teams") or [])
            teams = [
                t
                for t in teams
                if t["team_id"] in user_teams
                or any(m.get("user_id") == user_id for m in t.get("members_with_roles", []))
                or user_id in (t.get("members") or [])
                or user_id in (t.get("admins") or [])
            ]
        out = [self._team_list_object(t, user_id=user_id or None) for t in teams]
        out.sort(key=lambda t: t.get("team_alias") or "")
        if organization_id is not None:
            if organization_id == "default_organization":
                out = [t for t in out if t.get("organization_id") is None]
            else:
                out = [t for t in out if t.get("organization_id") == organization_id]
        return 200, out

    # ================================================================ data plane
    def models_list(self, req: Request, p: Principal) -> tuple[int, Any]:
        models = list(self.models)
        if p.key_row is not None and p.key_row.get("models"):
            allowed = p.key_row["models"]
            if "all-proxy-models" not in allowed and "*" not in allowed:
                models = [m for m in models if m in allowed]
        return 200, {
            "data": [
                {
                    "id": m,
                    "object": "model",
                    "created": 1677610602,
                    "owned_by": "openai",
                    **self.model_listing.get(m, {}),
                }
                for m in models
            ],
            "object": "list",
        }

    def chat_completions(self, req: Request, p: Principal) -> tuple[int, Any]:
        body = req.json if isinstance(req.json, dict) else {}
        model = body.get("model")
        if model is None or model not in self.models:
            message = (
                f"/chat/completions: Invalid model name passed in model={model}. "
                "Call `/v1/models` to view available models for your key."
            )
            # the router's error carries the message again as provider_specific_fields
            error = ProxyExc(message, "invalid_request_error", None, 400).to_api_error()
            error.body["error"]["provider_specific_fields"] = {"error": message}
            raise error
        if body.get("messages") is None:
            raise ProxyExc(
                "/chat/completions: Missing required parameter: 'messages'.", "invalid_request_error", "messages", 400
            )
        cost = self.cost_per_request
        spend_after = None
        with self.store.transaction():
            if p.key_row is not None:
                row = self.store.get_key(p.key_row["token"])
                if row is not None:
                    row["spend"] = float(row.get("spend") or 0.0) + cost
                    row["total_spend"] = float(row.get("total_spend") or 0.0) + cost
                    model_spend = dict(row.get("model_spend") or {})
                    model_spend[model] = float(model_spend.get(model, 0.0)) + cost
                    row["model_spend"] = model_spend
                    row["last_active"] = iso(self.now())
                    self.store.replace_key(row["token"], row)
                    spend_after = row["spend"]
                    if row.get("user_id"):
                        user = self.store.get_user(row["user_id"])
                        if user is not None:
                            user["spend"] = float(user.get("spend") or 0.0) + cost
                            self.store.put_user(user)
                    if row.get("team_id"):
                        team = self.store.get_team(row["team_id"])
                        if team is not None:
                            team["spend"] = float(team.get("spend") or 0.0) + cost
                            self.store.put_team(team)
        content = "This is a mock response from the LiteLLM stand-in."
        completion = {
            "id": f"chatcmpl-{uuid.uuid4()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
        }
        headers = {"x-litellm-response-cost": str(cost), "x-litellm-model-id": "standin"}
        if spend_after is not None:
            headers["x-litellm-key-spend"] = str(spend_after)
        return 200, (completion, headers)

    def health_liveliness(self, req: Request, p: Principal | None) -> tuple[int, Any]:
        return 200, "I'm alive!"

    def health_readiness(self, req: Request, p: Principal | None) -> tuple[int, Any]:
        return 200, {"status": "healthy", "db": "connected" if self.database else "Not connected"}

    # ============================================================ stand-in control
    def standin_get_faults(self, req: Request, p: Principal) -> tuple[int, Any]:
        return 200, self.faults.snapshot()

    def standin_set_faults(self, req: Request, p: Principal) -> tuple[int, Any]:
        body = req.json if req.json is not _MISSING else {}
        if not isinstance(body, dict):
            raise ProxyExc("fault config must be a JSON object", "bad_request_error", None, 400)
        try:
            cfg = FaultConfig.from_mapping(body)
        except (TypeError, ValueError) as exc:
            raise ProxyExc(str(exc), "bad_request_error", None, 400) from exc
        self.faults.set(cfg)
        return 200, self.faults.snapshot()

    def standin_clear_faults(self, req: Request, p: Principal) -> tuple[int, Any]:
        self.faults.clear()
        return 200, self.faults.snapshot()

    def standin_get_clock(self, req: Request, p: Principal) -> tuple[int, Any]:
        return 200, {"now": iso(self.now()), "offset_seconds": self.clock_offset}

    def standin_set_clock(self, req: Request, p: Principal) -> tuple[int, Any]:
        body = req.json if isinstance(req.json, dict) else {}
        try:
            if "offset_seconds" in body:
                self.clock_offset = float(body["offset_seconds"])
            if "advance_seconds" in body:
                self.clock_offset += float(body["advance_seconds"])
        except (TypeError, ValueError) as exc:
            raise ProxyExc(f"bad clock value: {exc}", "bad_request_error", None, 400) from exc
        return 200, {"now": iso(self.now()), "offset_seconds": self.clock_offset}

    def standin_config(self, req: Request, p: Principal) -> tuple[int, Any]:
        return 200, {
            "standin": True,
            "litellm_version": LITELLM_VERSION,
            "enterprise": self.enterprise,
            "cost_per_request": self.cost_per_request,
            "models": [f"{n}={b}" if b else n for n, b in self.model_deployments.items()],
            "database": self.database,
            "disable_custom_api_keys": self.disable_custom_api_keys,
            "default_key_generate_params": self.default_key_generate_params,
            "upperbound_key_generate_params": (
                self.upperbound_key_generate_params.model_dump(exclude_none=True)
                if self.upperbound_key_generate_params is not None
                else None
            ),
            "db_path": self.store.path,
            "keys": self.store.count_keys(),
            "requests": self.request_count,
        }

    def close(self) -> None:
        self.store.close()


# ----------------------------------------------------------------------------- HTTP transport
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "litellm-standin/" + LITELLM_VERSION
    timeout = 60  # idle keep-alive connections end after this

    server: StandinHTTPServer

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header follows the stand-in's clock (``advance_clock``), like a proxy whose time moved."""
        if timestamp is None:
            timestamp = self.server.app.now().timestamp()
        return email.utils.formatdate(timestamp, usegmt=True)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        app = self.server.app
        parts = urlsplit(self.path)
        body = self._read_body()
        decision = app.faults.decide(parts.path)
        if decision.delay:
            time.sleep(decision.delay)
        if decision.action == "drop":
            self._drop()
            return
        if decision.action == "malformed":
            self._send(200, b"<html><body>stand-in: malformed answer (not JSON)</body></html>", "application/json")
            return
        if decision.action == "fail":
            status = decision.status
            err_type = "service_unavailable" if status == 503 else "internal_server_error"
            payload = {
                "error": {
                    "message": f"stand-in injected fault: HTTP {status}",
                    "type": err_type,
                    "param": None,
                    "code": str(status),
                }
            }
            self._send(status, dumps(payload), headers={"Retry-After": "0"} if status in (429, 503) else None)
            return
        query = parse_qs(parts.query, keep_blank_values=True)
        status, payload, headers = app.dispatch(self.command, parts.path, query, self.headers, body, parts.query)
        if decision.drop_after:
            self._drop()
            return
        self._send(status, dumps(payload), headers=headers)


class StandinHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: StandinApp, verbose: bool = False) -> None:
        self.app = app
        self.verbose = verbose
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if ":" in str(host):
            host = f"[{host}]"
        return f"http://{host}:{port}"
