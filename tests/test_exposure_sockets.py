"""exposure.reachable_from_others: decided from the sockets this process really listens on."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from hubert_quant import exposure


def listener(family: int, address: str) -> socket.socket:
    s = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6 and address == "::":
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((address, 0))
    s.listen()
    return s


def has_ipv6() -> bool:
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
        return True
    except OSError:
        return False


def a_card_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, if it has one (read locally: nothing is sent)."""
    try:
        listed = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return next((a for a in listed if "." in a and not a.startswith("127.")), None)


EXPOSING = [(socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")]
LOCAL = [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "127.0.0.2"), (socket.AF_INET6, "::1")]


def test_nothing_listening_on_other_addresses_is_not_exposed():
    assert exposure.reachable_from_others() is None


@pytest.mark.parametrize("family,address", EXPOSING + [(socket.AF_INET, "card")], ids=["any4", "any6", "card"])
def test_a_socket_on_an_address_others_reach_exposes_the_process(family, address):
    if family == socket.AF_INET6 and not has_ipv6():
        pytest.skip("no IPv6 on this machine")
    if address == "card":
        address = a_card_address()
        if address is None:
            pytest.skip("this machine has no address but loopback")
    s = listener(family, address)
    try:
        port = s.getsockname()[1]
        reason = exposure.reachable_from_others()
        assert reason is not None and str(port) in reason
    finally:
        s.close()
    assert exposure.reachable_from_others() is None  # asked again: the socket is gone


@pytest.mark.parametrize("family,address", LOCAL, ids=["127.0.0.1", "127.0.0.2", "::1"])
def test_loopback_listeners_do_not(family, address):
    if family == socket.AF_INET6 and not has_ipv6():
        pytest.skip("no IPv6 on this machine")
    s = listener(family, address)
    try:
        assert (address, s.getsockname()[1]) in exposure.listening_addresses()
        assert exposure.reachable_from_others() is None
    finally:
        s.close()


def test_a_listener_of_another_process_is_not_ours():
    child = subprocess.Popen([sys.executable, "-c", "import socket,sys,time\ns=socket.socket();s.bind(('0.0.0.0',0));"
                              "s.listen();print(s.getsockname()[1],flush=True);time.sleep(60)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        port = int(child.stdout.readline())
        assert port not in [p for _, p in exposure.listening_addresses()]
        assert exposure.reachable_from_others() is None
    finally:
        child.kill()
        child.wait()


def test_a_share_link_exposes_without_any_socket():
    assert "share" in exposure.reachable_from_others(share=True)


def test_where_sockets_cannot_be_listed_the_flags_decide(monkeypatch):
    monkeypatch.setattr(exposure, "listening_addresses", lambda: None)
    assert exposure.reachable_from_others() is None
    assert "--listen" in exposure.reachable_from_others(said="it was started with --listen")


@pytest.mark.parametrize("address,loopback", [
    ("127.0.0.1", True), ("127.255.0.9", True), ("::1", True), ("::ffff:127.0.0.1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("::ffff:10.0.0.5", False), ("fe80::1%eth0", False),
])
def test_what_counts_as_loopback(address, loopback):
    assert exposure.is_loopback(address) is loopback


def test_a_port_that_serves_no_page_is_left_out_and_only_that_port():
    """audio-webui's RVC training opens torch.distributed's store on 0.0.0.0: named and ignored, nothing else."""
    store, page = listener(socket.AF_INET, "0.0.0.0"), listener(socket.AF_INET, "0.0.0.0")
    try:
        store_port, page_port = store.getsockname()[1], page.getsockname()[1]
        assert str(page_port) in exposure.reachable_from_others(ignore_ports=[store_port])
        page.close()
        assert exposure.reachable_from_others(ignore_ports=[store_port]) is None
        assert str(store_port) in exposure.reachable_from_others()
    finally:
        store.close()
        page.close()
