"""Unit tests for mockserver.platform.webhook_targets: SSRF rules for webhook delivery targets."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence

import pytest

from mockserver.platform.webhook_targets import Target, TargetPolicy, TargetRefused


class FakeDNS:
    """A resolver the test fills in; records every lookup and can answer differently each time."""

    def __init__(self, records: dict[str, list[str]] | None = None) -> None:
        self.records = dict(records or {})
        self.queue: dict[str, Iterator[list[str]]] = {}
        self.lookups: list[tuple[str, int]] = []

    def answer_in_turn(self, host: str, *answers: list[str]) -> None:
        self.queue[host] = iter(answers)

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append((host, port))
        host = host.removesuffix(".")  # a fully qualified name, as a real resolver treats it
        if host in self.queue:
            return next(self.queue[host])
        if host not in self.records:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.records[host]


def policy(allow: Sequence[str] = (), **records: list[str]) -> TargetPolicy:
    names = {name.replace("_", "."): addresses for name, addresses in records.items()}
    return TargetPolicy(allow, resolve=FakeDNS(names))


def refusal(target_policy: TargetPolicy, url: str) -> str:
    message = target_policy.allows(url)
    assert message is not None, f"{url} was allowed"
    return message


# Loopback is always allowed.


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9000/hooks", "http://127.8.9.10/x", "http://[::1]:9000/x", "http://[::ffff:127.0.0.1]/x"],
)
def test_loopback_literals_are_allowed_without_resolving(url: str) -> None:
    dns = FakeDNS()
    assert TargetPolicy(resolve=dns).allows(url) is None
    assert dns.lookups == []


def test_localhost_is_allowed_through_the_resolver() -> None:
    dns = FakeDNS({"localhost": ["127.0.0.1", "::1"]})
    target = TargetPolicy(resolve=dns).check("http://LocalHost:8080/hooks")
    assert dns.lookups == [("localhost", 8080)]
    assert (target.host, target.port, target.address) == ("localhost", 8080, "127.0.0.1")


# Everything else is refused by default.


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.1", "172.16.0.1", "8.8.8.8", "fd00::1", "2001:db8::1"])
def test_other_addresses_are_refused_by_default(address: str) -> None:
    message = refusal(policy(hooks_example_com=[address]), "https://hooks.example.com/x")
    assert message == (
        f"hooks.example.com resolves to {address}, which is not allowed: "
        "the sandbox delivers to loopback and to hosts named with --webhook-allow."
    )


def test_a_literal_address_is_refused_naming_it() -> None:
    message = refusal(policy(), "http://10.1.2.3:8080/x")
    assert message.startswith("10.1.2.3 is not allowed:")
    assert "--webhook-allow" in message


@pytest.mark.parametrize("address", ["0.0.0.0", "169.254.169.254", "224.0.0.1", "[fe80::1]", "[::]"])
def test_unspecified_link_local_and_multicast_literals_are_refused(address: str) -> None:
    assert "is not allowed" in refusal(policy(), f"http://{address}/x")


# The operator's allow list.


def test_an_allowed_name_is_trusted_for_what_it_resolves_to() -> None:
    allowed = policy(["Hooks.Example.com"], hooks_example_com=["10.0.0.5", "fd00::5"])
    target = allowed.check("https://HOOKS.example.com./x")
    assert target.address == "10.0.0.5"
    assert allowed.allows("https://other.example.com/x") is not None


def test_a_wildcard_allows_subdomains_but_not_the_apex() -> None:
    records = {"a.example.com": ["10.0.0.1"], "b.c.example.com": ["10.0.0.2"], "example.com": ["10.0.0.3"]}
    allowed = TargetPolicy(["*.example.com"], resolve=FakeDNS(records | {"badexample.com": ["10.0.0.4"]}))
    assert allowed.allows("http://a.example.com/x") is None
    assert allowed.allows("http://b.c.example.com/x") is None
    assert "resolves to 10.0.0.3" in refusal(allowed, "http://example.com/x")
    assert "resolves to 10.0.0.4" in refusal(allowed, "http://badexample.com/x")


def test_an_allowed_address_or_network_allows_any_name_resolving_into_it() -> None:
    allowed = policy(["10.0.0.0/8", "192.168.1.7", "fd00::/8"], a_test=["10.9.9.9"], b_test=["192.168.1.7"])
    assert allowed.allows("http://a.test/x") is None
    assert allowed.allows("http://b.test/x") is None
    assert allowed.allows("http://[fd12::1]:8443/x") is None
    assert allowed.allows("http://192.168.1.8/x") is not None
    assert allowed.allows("http://11.0.0.1/x") is not None


def test_every_resolved_address_must_be_allowed() -> None:
    mixed = policy(["10.0.0.0/8"], mixed_test=["10.0.0.1", "192.168.0.1"])
    assert "resolves to 192.168.0.1" in refusal(mixed, "http://mixed.test/x")
    with_loopback = policy(both_test=["127.0.0.1", "10.0.0.1"])
    assert "resolves to 10.0.0.1" in refusal(with_loopback, "http://both.test/x")


def test_the_delivery_time_check_catches_dns_rebinding() -> None:
    dns = FakeDNS()
    dns.answer_in_turn("rebind.test", ["127.0.0.1"], ["10.0.0.1"])
    rules = TargetPolicy(resolve=dns)
    assert rules.check("http://rebind.test:9000/hooks").address == "127.0.0.1"  # at subscription
    with pytest.raises(TargetRefused, match=r"rebind\.test resolves to 10\.0\.0\.1"):
        rules.check("http://rebind.test:9000/hooks")  # at delivery: resolved afresh, judged again
    assert dns.lookups == [("rebind.test", 9000), ("rebind.test", 9000)]


@pytest.mark.parametrize("address", ["169.254.169.254", "fe80::1", "0.0.0.0", "::", "239.1.2.3"])
def test_a_named_host_never_reaches_metadata_unspecified_or_multicast(address: str) -> None:
    message = refusal(policy(["hooks.example.com"], hooks_example_com=[address]), "http://hooks.example.com/")
    assert message.startswith(f"hooks.example.com resolves to {address}, which is ")
    assert "unless --webhook-allow lists it as an address or network" in message


def test_metadata_is_reachable_when_its_address_is_listed() -> None:
    listed = policy(["hooks.example.com", "169.254.169.254"], hooks_example_com=["169.254.169.254"])
    assert listed.allows("http://hooks.example.com/") is None
    assert policy(["169.254.0.0/16"]).allows("http://169.254.169.254/latest") is None


def test_ipv4_mapped_ipv6_is_judged_as_ipv4() -> None:
    assert "10.0.0.1 is not allowed" in refusal(policy(), "http://[::ffff:10.0.0.1]/x")
    assert "resolves to 10.0.0.1," in refusal(policy(sneaky_test=["::ffff:10.0.0.1"]), "http://sneaky.test/x")
    assert policy(["10.0.0.0/8"]).check("http://[::ffff:10.0.0.1]/x").address == "10.0.0.1"
    assert policy(["::ffff:10.0.0.0/104"]).allows("http://10.2.3.4/x") is None
    named = policy(["meta.test"], meta_test=["::ffff:169.254.169.254"])
    assert "169.254.169.254, which is link-local" in refusal(named, "http://meta.test/")


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f.1", "0x7f000001", "0177.0.0.1", "10.1", "167772161", "0xa.0.0.1", "a.0x0a"]
)
def test_integer_and_hex_host_forms_are_refused_not_resolved(host: str) -> None:
    dns = FakeDNS({host: ["10.0.0.1"]})
    message = refusal(TargetPolicy(["10.0.0.0/8"], resolve=dns), f"http://{host}/x")
    assert message == f"{host!r} is not a host name: write an IP address in dotted-decimal form, e.g. 127.0.0.1."
    assert dns.lookups == []


# Malformed URLs and unresolvable hosts.


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1:70/", "127.0.0.1:9000/x", "//127.0.0.1/"]
)
def test_only_http_and_https_are_delivered_to(url: str) -> None:
    assert refusal(policy(), url) == "Use an http or https URL."


@pytest.mark.parametrize("url", ["http:///hooks", "https://", "http://user@/x"])
def test_a_url_needs_a_host(url: str) -> None:
    assert refusal(policy(), url) == "Give the URL a host, e.g. http://127.0.0.1:9000/hooks."


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:99999/", "That is not a valid URL: check its host and port."),
        ("http://127.0.0.1:http/", "That is not a valid URL: check its host and port."),
        ("http://[::1/", "That is not a valid URL: check its host and port."),
        ("http://127.0.0.1:0/", "Use a port between 1 and 65535."),
        ("http://127.0.0.1\\@10.0.0.1/", "Remove the backslash from the URL's host part."),
        ("http://127.0.0.1\\@127.0.0.1/", "Remove the backslash from the URL's host part."),
        ("http://bad_host!.test/", "'bad_host!.test' is not a valid host name."),
        ("http://-x.test/", "'-x.test' is not a valid host name."),
        (
            "http://[fe80::1%25eth0]/",
            "'fe80::1%25eth0' has a zone id or escape: write the address or name without one.",
        ),
    ],
)
def test_malformed_urls_are_refused_clearly(url: str, expected: str) -> None:
    assert refusal(policy(), url).startswith(expected)


def test_an_unresolvable_host_is_refused_with_the_reason() -> None:
    assert (
        refusal(policy(), "http://internal.example/x")
        == "internal.example cannot be resolved: Name or service not known."
    )
    assert refusal(policy(empty_test=[]), "http://empty.test/") == "empty.test cannot be resolved: it has no addresses."


@pytest.mark.parametrize(
    "url",
    [
        "http://alice:s3cr3t@10.0.0.1/x",
        "https://alice:s3cr3t@hooks.example.com/x",
        "https://alice:s3cr3t@nowhere.test/x",
        "https://alice:s3cr3t@127.0.0.1:99999/x",
        "alice:s3cr3t@127.0.0.1/x",
        "ftp://alice:s3cr3t@127.0.0.1/x",
        "http://alice:s3cr3t@[::1/x",
        "http://alice:s3cr3t\\@127.0.0.1/x",
    ],
)
def test_credentials_never_appear_in_a_message(url: str) -> None:
    message = refusal(policy(hooks_example_com=["10.0.0.2"]), url)
    assert "s3cr3t" not in message
    assert "alice" not in message


def test_credentials_are_accepted_but_kept_out_of_the_repr() -> None:
    target = policy().check("http://alice:s3cr3t@127.0.0.1:9000/x")
    assert "s3cr3t" not in repr(target)
    assert target.connect_url == "http://alice:s3cr3t@127.0.0.1:9000/x"


# The allow list itself.


@pytest.mark.parametrize(
    "entry", ["http://x", "*", "*.", "a..b", "exa mple.com", "10.0.0.0/33", "-bad.test", "2130706433", ""]
)
def test_malformed_allow_entries_raise_value_error(entry: str) -> None:
    with pytest.raises(ValueError, match=r"^--webhook-allow: .* is not a") as raised:
        TargetPolicy([entry])
    assert not isinstance(raised.value, TargetRefused)


def test_a_network_with_host_bits_set_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.1/8' is not a valid network \(10\.0\.0\.1/8 has host bits set\)"):
        TargetPolicy(["10.0.0.1/8"])


def test_the_policy_describes_itself_in_one_line() -> None:
    assert TargetPolicy().describe() == "loopback"
    entries = ["Hooks.Example.com", "*.Partner.test", "10.0.0.0/8", "[fd00::1]", "hooks.example.com"]
    assert TargetPolicy(entries).describe() == "loopback and hooks.example.com, *.partner.test, 10.0.0.0/8, fd00::1"


# Pinning: connect to the checked address, send the name.


@pytest.mark.parametrize(
    ("url", "connect_url", "host_header"),
    [
        ("http://localhost/hooks?a=1#f", "http://127.0.0.1/hooks?a=1#f", "localhost"),
        ("https://localhost:443/h", "https://127.0.0.1/h", "localhost"),
        ("https://localhost:8443/h", "https://127.0.0.1:8443/h", "localhost:8443"),
        ("http://localhost:443/h", "http://127.0.0.1:443/h", "localhost:443"),
        ("http://v6.test:9000/h", "http://[::1]:9000/h", "v6.test:9000"),
        ("https://v6.test/h", "https://[::1]/h", "v6.test"),
        ("HTTP://[::1]:80/h", "http://[::1]/h", "[::1]"),
        ("http://[::1]:8080/h", "http://[::1]:8080/h", "[::1]:8080"),
    ],
)
def test_connect_url_and_host_header(url: str, connect_url: str, host_header: str) -> None:
    target = policy(localhost=["127.0.0.1"], v6_test=["::1"]).check(url)
    assert target.connect_url == connect_url
    assert target.host_header == host_header


def test_a_target_keeps_the_original_url_and_its_parts() -> None:
    target = policy(localhost=["::1", "127.0.0.1"]).check("https://localhost/x")
    assert target == Target(url="https://localhost/x", scheme="https", host="localhost", port=443, address="::1")
