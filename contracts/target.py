"""The implementation under test: base URL, spec, keys by role, and run settings (flags or a TOML file)."""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from contracts.budget import Budget
from contracts.credentials import AuthState, Credentials
from contracts.credentials.schemes import load_document
from contracts.interrupt import Interruption
from contracts.meter import Meter

if TYPE_CHECKING:
    from contracts.suites import Registry

# The sandbox's published keys (README, fixtures/companies.yaml): the default when no key is given.
SANDBOX_KEYS = {
    "full": "sk_test_acme_full_4eC39HqLyjWDarjtT1zdp7dc",
    "readonly": "sk_test_acme_readonly_9kR2mXq7LpZ4vB8nW3yT",
    "other": "sk_test_globex_full_8Jd3Kf0Lp2Qw5Er7Ty9U",
    "expired": "sk_test_acme_expired_2Zt6Yw1Nq8Rs5Uv3Mx0P",
}
ROLES = ("full", "readonly", "other", "expired")
WEBHOOK_WAIT = 60.0  # seconds to wait for deliveries and retries (--webhook-wait)
WEBHOOK_TOLERANCE = 300.0  # seconds a delivery's timestamp may be off the receiver's clock (--webhook-tolerance)


@dataclass(frozen=True)
class Keys:
    """Credentials by role: full access, read-only (same company), another company's full key, expired."""

    full: str | None = None
    readonly: str | None = None
    other: str | None = None
    expired: str | None = None

    def get(self, role: str) -> str | None:
        """The key of a role, or None when the target has none."""
        value: str | None = getattr(self, role)
        return value


@dataclass(frozen=True)
class Target:
    """Everything a suite needs to know about the implementation it checks."""

    base_url: str
    spec_path: Path
    keys: Keys = field(default_factory=Keys)
    suites: tuple[str, ...] = ()  # () until build_target picks them: the registry's defaults, or those named
    options: tuple[tuple[str, float], ...] = ()  # suite options (``--ratelimit-budget``, ...), by option name
    seed: int = 0
    max_examples: int = 25
    shrink: bool = True  # the rules state machine shrinks a failure to its minimal steps (False: as found)
    setup_hook: str | None = None
    timeout: float = 30.0
    # The webhooks suite's receiver: where it listens (``HOST:PORT``, port 0 = a free one), the URL the target
    # must POST to (default ``http://HOST:PORT``), how long to wait for deliveries and retries, timestamp tolerance.
    webhook_listen: str = "127.0.0.1:0"
    webhook_public_url: str | None = None
    webhook_wait: float = WEBHOOK_WAIT
    webhook_tolerance: float = WEBHOOK_TOLERANCE
    # The sandbox's admin token (``--admin-token``): lets the webhooks suite simulate what only a customer does
    # (``POST /__sandbox/simulate/...``). Never written anywhere: reports name it ``${CONTRACTS_ADMIN_TOKEN}``.
    admin_token: str | None = field(default=None, repr=False)
    # How credentials are sent (``--auth-scheme``): security schemes of the spec allowed, in no order (the spec's
    # order per operation decides), or one literal way (``bearer``, ``basic``, ``header:NAME``, ...); () = any.
    auth_scheme: tuple[str, ...] = ()
    token_url: str | None = None  # OAuth2 client credentials: where to get tokens (default: the spec's tokenUrl)
    # The run's credentials plan and OAuth2 tokens; the runner gives each run a fresh one.
    auth_state: AuthState = field(default_factory=AuthState, compare=False, repr=False)
    # The operations the operation-level suites test (``--operations``, ``--changed-since``): their labels
    # (``POST /invoices``); None tests every operation. ``selection`` says how they were chosen, for the report.
    operations: frozenset[str] | None = None
    selection: str = ""
    # Worker processes the conformance and stateful suites may use (``--workers``, ``contracts.workers``).
    workers: int = 1
    # The run's ``--budget`` (seconds and/or requests for the whole run); None: no budget.
    budget: Budget | None = field(default=None, compare=False, repr=False)
    # Counts what is sent to the target; the runner gives each suite its own (``replace(target, meter=...)``).
    meter: Meter = field(default_factory=Meter, compare=False, repr=False)
    # Where the run's SIGINT handler notes a Ctrl-C (``contracts.interrupt``): the engine stops on it at its next
    # event even when Python swallowed the KeyboardInterrupt. The runner sets it; None: only the exception stops.
    interruption: Interruption | None = field(default=None, compare=False, repr=False)

    @property
    def api(self) -> str:
        """The base URL without a trailing slash."""
        return self.base_url.rstrip("/")


def default_spec_path() -> Path:
    """The contract: the checkout's openapi.yaml, or the copy the installed wheel carries.

    The wheel ships it once, inside the ``mockserver`` package's data; ``find_spec`` locates that
    package without importing it, so the suites still depend on nothing of the sandbox's code.
    """
    in_checkout = Path(__file__).resolve().parent.parent / "openapi.yaml"
    if in_checkout.exists():
        return in_checkout
    found = importlib.util.find_spec("mockserver")
    if found is not None and found.origin:
        return Path(found.origin).parent / "data" / "openapi.yaml"
    return in_checkout


def parse_key(text: str) -> tuple[str, str]:
    """``role=secret`` -> (role, secret); a bare secret is the ``full`` key."""
    role, sep, secret = text.partition("=")
    if not sep:
        return "full", text
    if role not in ROLES:
        raise ValueError(f"unknown key role {role!r}; use one of {', '.join(ROLES)}")
    return role, secret


def load_config(path: Path) -> dict[str, Any]:
    """Read a TOML target file (see the README's "Validate your own implementation")."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    section = raw.get("target", raw)
    if not isinstance(section, dict):
        raise ValueError(f"{path}: [target] must be a table")
    return section


def build_target(
    base_url: str | None,
    *,
    registry: Registry | None = None,
    spec: Path | None = None,
    keys: list[str] | None = None,
    suites: list[str] | None = None,
    seed: int | None = None,
    max_examples: int | None = None,
    shrink: bool | None = None,
    config: Path | None = None,
    setup_hook: str | None = None,
    webhook_listen: str | None = None,
    webhook_public_url: str | None = None,
    webhook_wait: float | None = None,
    webhook_tolerance: float | None = None,
    admin_token: str | None = None,
    auth_scheme: str | None = None,
    token_url: str | None = None,
) -> Target:
    """Combine a config file (if any) with flags; flags win. No key at all means the sandbox's keys.

    The suites named (by flag or config file) must be in ``registry`` (default: the built-in suites); none named
    means its defaults.
    """
    values: dict[str, Any] = load_config(config) if config else {}
    url = base_url or values.get("base_url")
    if not url:
        raise ValueError("a base URL is required (--base-url or base_url in the config file)")
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the base URL must be http(s)://host[:port]/path, not {url!r}")
    key_values: dict[str, str] = dict(values.get("keys", {}))
    for text in keys or []:
        role, secret = parse_key(text)
        key_values[role] = secret
    if not key_values:
        key_values = dict(SANDBOX_KEYS)
    unknown = set(key_values) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown key role(s) {sorted(unknown)}; use {', '.join(ROLES)}")
    if registry is None:
        from contracts import builtin  # the suites import this module: asked for when a target is built

        registry = builtin.suites()
    requested = suites if suites is not None else values.get("suites")
    if requested is not None and not isinstance(requested, list | tuple):
        raise ValueError("suites in the config file must be a list of names")
    chosen = registry.choose([str(name) for name in requested or ()])
    spec_path = Path(spec or values.get("spec") or default_spec_path())
    if not spec_path.is_file():
        raise ValueError(f"no spec at {spec_path} (--spec or spec in the config file)")
    target = Target(
        base_url=str(url),
        spec_path=spec_path,
        keys=Keys(**key_values),
        suites=chosen,
    )
    overrides: dict[str, Any] = {
        "seed": seed if seed is not None else values.get("seed"),
        "max_examples": max_examples if max_examples is not None else values.get("max_examples"),
        "shrink": shrink if shrink is not None else values.get("shrink"),
        "setup_hook": setup_hook or values.get("setup_hook"),
        "webhook_listen": webhook_listen or values.get("webhook_listen"),
        "webhook_public_url": webhook_public_url or values.get("webhook_public_url"),
        "webhook_wait": webhook_wait if webhook_wait is not None else values.get("webhook_wait"),
        "webhook_tolerance": webhook_tolerance if webhook_tolerance is not None else values.get("webhook_tolerance"),
        "admin_token": admin_token if admin_token is not None else values.get("admin_token"),
    }
    chosen_overrides = {k: v for k, v in overrides.items() if v is not None}
    if not isinstance(chosen_overrides.get("shrink", True), bool):
        raise ValueError("shrink in the config file must be true or false")
    check_webhook_settings(chosen_overrides)
    check_admin_token(chosen_overrides)
    target = replace(target, **chosen_overrides, **auth_settings(auth_scheme, token_url, values))
    check_auth_settings(target)
    return target


def auth_settings(auth_scheme: str | None, token_url: str | None, values: dict[str, Any]) -> dict[str, Any]:
    """``--auth-scheme`` (comma-separated, or a list in the config file) and ``--token-url``; flags win."""
    scheme: Any = auth_scheme if auth_scheme is not None else values.get("auth_scheme")
    names = scheme.split(",") if isinstance(scheme, str) else scheme or []
    if not isinstance(names, list | tuple):
        raise ValueError("auth_scheme in the config file must be a name or a list of names")
    url = token_url or values.get("token_url")
    if url is not None:
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--token-url must be http(s)://host[:port]/path, not {url!r}")
    chosen = tuple(str(name).strip() for name in names if str(name).strip())
    return {"auth_scheme": chosen, "token_url": str(url) if url else None}


def check_auth_settings(target: Target) -> None:
    """Refuse an ``--auth-scheme`` the spec does not declare (a usage error), naming the ones it does."""
    if target.auth_scheme:
        Credentials(load_document(target.spec_path), base_url=target.api, chosen=target.auth_scheme)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST``, ``:PORT`` or ``[IPv6]:PORT`` -> (host, port); port 0 means a free one."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") if sep else ""
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"--webhook-listen: {text!r} is not HOST:PORT")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text:
        host, port_text = text, ""  # a bare IPv6 address
    else:
        host, port_text = text, ""
    host = host or "127.0.0.1"
    if port_text and not port_text.isdigit():
        raise ValueError(f"--webhook-listen: {text!r} is not HOST:PORT (the port must be a number)")
    port = int(port_text or 0)
    if port > 65535:
        raise ValueError(f"--webhook-listen: port {port} is above 65535")
    return host, port


def check_webhook_settings(values: dict[str, Any]) -> None:
    """Refuse webhook settings no run can use (a usage error, exit 2), and coerce numbers read from TOML."""
    if "webhook_listen" in values:
        parse_listen(str(values["webhook_listen"]))
    url = values.get("webhook_public_url")
    if url is not None:
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--webhook-public-url must be http(s)://host[:port][/path], not {url!r}")
    for name in ("webhook_wait", "webhook_tolerance"):
        if name in values:
            try:
                number = float(values[name])
            except (TypeError, ValueError):
                raise ValueError(f"--{name.replace('_', '-')} must be a number of seconds") from None
            if not number > 0 or number == float("inf"):
                raise ValueError(f"--{name.replace('_', '-')} must be a number of seconds above 0")
            values[name] = number


def check_admin_token(values: dict[str, Any]) -> None:
    """Refuse an admin token no request can carry (a usage error, exit 2): it goes in an Authorization header."""
    token = values.get("admin_token")
    if token is None:
        return
    if not isinstance(token, str) or not token.strip() or any(c in token for c in "\r\n"):
        raise ValueError("--admin-token (admin_token in the config file) must be a non-empty string on one line")
    values["admin_token"] = token.strip()
