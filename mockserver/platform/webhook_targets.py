"""Where the sandbox may deliver webhooks: loopback and the hosts named with --webhook-allow.

Guards against SSRF twice: ``TargetPolicy.check`` runs when a subscription is made (a refusal
becomes a 422) and again before every delivery, on freshly resolved addresses, so a name that
is re-pointed after subscribing (DNS rebinding) is caught. The delivery must then connect to
``Target.address`` (see ``Target.connect_url``) and not resolve the name a second time.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

DEFAULT_PORTS = {"http": 80, "https": 443}
WHO = "the sandbox delivers to loopback and to hosts named with --webhook-allow"
LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


class TargetRefused(ValueError):
    """A webhook URL the sandbox will not deliver to; the message says what to do instead."""


@dataclass(frozen=True)
class Target:
    """A checked delivery target, pinned to the address that was judged."""

    url: str = field(repr=False)  # may carry credentials, so it stays out of repr()
    scheme: str
    host: str
    port: int
    address: str

    @property
    def host_header(self) -> str:
        """The Host header (and, for https, the SNI/certificate name is ``host``) the client sends."""
        return _authority(_bracket(self.host), self.scheme, self.port)

    @property
    def connect_url(self) -> str:
        """The original URL with its host replaced by the checked address, so nothing resolves again."""
        parts = urlsplit(self.url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = _authority(_bracket(self.address), self.scheme, self.port)
        if userinfo:
            netloc = f"{userinfo}@{netloc}"
        return urlunsplit((self.scheme, netloc, parts.path, parts.query, parts.fragment))


def resolve_all(host: str, port: int) -> list[str]:
    """Every address (IPv4 and IPv6) the OS resolver gives for ``host``, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class TargetPolicy:
    """Decides which webhook URLs may be delivered to, from the operator's --webhook-allow entries.

    Allow entries are host names (exact, case-insensitive), ``*.example.com`` wildcards (any
    subdomain, not the apex), IP addresses and CIDR networks. An address is allowed when it is
    loopback, lies inside a listed address or network, or belongs to a host whose name is listed;
    a listed name is trusted for whatever it resolves to except unspecified, multicast and
    link-local addresses (cloud metadata lives there), which must be listed as addresses.
    """

    def __init__(self, allow: Sequence[str] = (), resolve: Resolver | None = None) -> None:
        self._resolve = resolve or resolve_all
        self._names: set[str] = set()
        self._suffixes: set[str] = set()
        self._networks: list[IPNetwork] = []
        self._entries: list[str] = []
        for raw in allow:
            entry = _parse_entry(raw)
            if isinstance(entry, str):
                (self._suffixes if entry.startswith("*.") else self._names).add(entry.removeprefix("*"))
                text = entry
            else:
                self._networks.append(entry)
                text = str(entry.network_address) if entry.num_addresses == 1 else str(entry)
            if text not in self._entries:
                self._entries.append(text)

    def describe(self) -> str:
        """The policy in one line for the banner and docs, e.g. ``loopback and hooks.example.com, 10.0.0.0/8``."""
        return "loopback" + (f" and {', '.join(self._entries)}" if self._entries else "")

    def allows(self, url: str) -> str | None:
        """Why ``url`` is refused, or None when it may be delivered to."""
        try:
            self.check(url)
        except TargetRefused as refused:
            return str(refused)
        return None

    def check(self, url: str) -> Target:
        """Parse, resolve and judge ``url``; return it pinned to the first address, or raise TargetRefused.

        Every resolved address must be allowed. Integer and hex host forms that the OS would read
        as IPv4 (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) are refused as not host names rather
        than normalised, so no spelling of an address can slip past the judgement.
        """
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            host = parts.hostname or ""
            explicit_port = parts.port
        except ValueError:
            # The parser's own message may quote the netloc, credentials included.
            raise TargetRefused("That is not a valid URL: check its host and port.") from None
        if scheme not in DEFAULT_PORTS:
            raise TargetRefused("Use an http or https URL.")
        if "\\" in parts.netloc:
            # Browsers and WHATWG parsers read a backslash as "/", so the host would be ambiguous.
            raise TargetRefused("Remove the backslash from the URL's host part.")
        if not host:
            raise TargetRefused("Give the URL a host, e.g. http://127.0.0.1:9000/hooks.")
        if explicit_port == 0:
            raise TargetRefused("Use a port between 1 and 65535.")
        port = explicit_port or DEFAULT_PORTS[scheme]
        literal = _literal_address(host)
        if literal is not None:
            addresses = [literal]
        else:
            host = _host_name(host)
            addresses = self._addresses(host, port)
        named = literal is None and self._names_host(host)
        for address in addresses:
            reason = self._refusal(address, named)
            if reason:
                subject = f"{host} resolves to {address}, which" if literal is None else f"{address}"
                raise TargetRefused(f"{subject} {reason}.")
        return Target(url=url, scheme=scheme, host=host, port=port, address=str(addresses[0]))

    def _addresses(self, host: str, port: int) -> list[IPAddress]:
        """Resolve ``host`` afresh; IPv4-mapped IPv6 answers become their IPv4 address."""
        try:
            answers = self._resolve(host, port)
        except (OSError, UnicodeError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise TargetRefused(f"{host} cannot be resolved: {detail}.") from None
        addresses = list(dict.fromkeys(_unmap(ipaddress.ip_address(answer)) for answer in answers))
        if not addresses:
            raise TargetRefused(f"{host} cannot be resolved: it has no addresses.")
        return addresses

    def _names_host(self, host: str) -> bool:
        """Whether the host name matches a listed name or wildcard."""
        name = host.rstrip(".")
        return name in self._names or any(name.endswith(suffix) for suffix in self._suffixes)

    def _refusal(self, address: IPAddress, named: bool) -> str | None:
        """Why ``address`` may not be delivered to (a clause of the refusal), or None when it may."""
        if address.is_loopback or any(address in network for network in self._networks):
            return None
        risky = address.is_unspecified or address.is_multicast or address.is_link_local
        if named and not risky:
            return None
        if named:
            kind = "unspecified" if address.is_unspecified else "multicast" if address.is_multicast else "link-local"
            return f"is {kind} and is never delivered to unless --webhook-allow lists it as an address or network"
        return f"is not allowed: {WHO}"


def _parse_entry(raw: str) -> str | IPNetwork:
    """One --webhook-allow entry as a lowercase name, ``*.suffix`` or network; ValueError if malformed."""
    entry = raw.strip().lower()
    bare = entry[1:-1] if entry.startswith("[") and entry.endswith("]") else entry
    try:
        return ipaddress.ip_network(_unmap(ipaddress.ip_address(bare)))
    except ValueError:
        pass
    if "/" in entry:
        try:
            network = ipaddress.ip_network(entry)
        except ValueError as exc:
            raise ValueError(f"--webhook-allow: {raw!r} is not a valid network ({exc})") from None
        if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96 and network[0].ipv4_mapped:
            mapped = network[0].ipv4_mapped
            return ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
        return network
    wildcard = entry.startswith("*.")
    try:
        return ("*." if wildcard else "") + _host_name(entry.removeprefix("*.")).removesuffix(".")
    except TargetRefused:
        raise ValueError(f"--webhook-allow: {raw!r} is not a host name, address or network") from None


def _literal_address(host: str) -> IPAddress | None:
    """The address a URL host spells in standard form (dotted-decimal IPv4 or IPv6), else None."""
    if "%" in host:
        raise TargetRefused(f"{host!r} has a zone id or escape: write the address or name without one.")
    try:
        return _unmap(ipaddress.ip_address(host))
    except ValueError:
        if ":" in host:
            raise TargetRefused(f"{host!r} is not a valid IP address.") from None
        return None


def _host_name(host: str) -> str:
    """``host`` checked as a DNS name (IDNA-encoded, lowercase); TargetRefused for anything else."""
    try:
        name = host.encode("idna").decode("ascii").lower() if not host.isascii() else host.lower()
    except UnicodeError:
        raise TargetRefused(f"{host!r} is not a valid host name.") from None
    labels = name.removesuffix(".").split(".")
    last = labels[-1]
    if last.isdigit() or (last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:])):
        raise TargetRefused(f"{host!r} is not a host name: write an IP address in dotted-decimal form, e.g. 127.0.0.1.")
    if len(name) > 253 or not all(_valid_label(label) for label in labels):
        raise TargetRefused(f"{host!r} is not a valid host name.")
    return name


def _valid_label(label: str) -> bool:
    """Whether ``label`` is one DNS label: 1-63 letters, digits, hyphens or underscores, no edge hyphen."""
    return 0 < len(label) <= 63 and set(label) <= LABEL_CHARS and not label.startswith("-") and not label.endswith("-")


def _unmap(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (``::ffff:10.0.0.1``) as its IPv4 address; others unchanged."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _bracket(host: str) -> str:
    """A host as it appears in a URL authority: IPv6 addresses in brackets."""
    return f"[{host.replace('%', '%25')}]" if ":" in host else host


def _authority(host: str, scheme: str, port: int) -> str:
    """``host[:port]``, the port omitted when it is the scheme's default."""
    return host if DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
