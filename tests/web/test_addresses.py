"""The SSRF rule: which addresses the fetcher may connect to."""

import ipaddress

import pytest

from gradio_app.web.addresses import AddressPolicy, AddressRefused, address_kind


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("93.184.215.14", "public"),
        ("2606:4700::6810:85e5", "public"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "private"),  # documentation range: not on the internet
        # IPv6 forms that carry an IPv4 address are judged by it
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("::ffff:93.184.215.14", "public"),
    ],
)
def test_address_kinds(address, kind):
    assert address_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.1", "192.168.0.10", "169.254.169.254", "fe80::1"])
def test_private_addresses_are_refused_by_default_and_allowed_by_the_setting(address):
    with pytest.raises(AddressRefused, match="allow private addresses"):
        AddressPolicy().check("example.test", address)
    assert str(AddressPolicy(allow_private=True).check("example.test", address)) == address.split("%")[0]


@pytest.mark.parametrize("address", ["224.0.0.1", "0.0.0.0", "240.0.0.1", "::", "ff02::1"])
def test_multicast_unspecified_and_reserved_are_refused_even_when_private_is_allowed(address):
    with pytest.raises(AddressRefused) as refused:
        AddressPolicy(allow_private=True).check(address, address)
    assert "allow private" not in str(refused.value)


def test_an_allowed_network_opens_only_itself():
    policy = AddressPolicy.allowing("127.0.0.1/32")
    assert str(policy.check("localhost", "127.0.0.1")) == "127.0.0.1"
    for other in ("127.0.0.2", "::1", "10.0.0.1"):
        with pytest.raises(AddressRefused):
            policy.check("x", other)


def test_a_name_with_one_private_address_among_public_ones_is_refused():
    with pytest.raises(AddressRefused, match=r"evil\.test \(10\.0\.0\.5\): a private address"):
        AddressPolicy().check_all("evil.test", ["93.184.215.14", "10.0.0.5"])


def test_ipv6_zone_ids_are_ignored_for_the_check():
    with pytest.raises(AddressRefused, match="link-local"):
        AddressPolicy().check("x", "fe80::1%eth0")
