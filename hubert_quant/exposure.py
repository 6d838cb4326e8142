"""Whether anyone but this machine can reach this process: read from what it really listens on.

A front end's flags say what its owner asked for; the sockets say what happened. A host can be
reachable without any flag of ours (TTS-WebUI's proxy listens on 0.0.0.0 by default, audio-webui
honours ``GRADIO_SERVER_NAME``), so the answer comes from the process's own listening TCP sockets,
asked again at each request that could change models or read paths (cheap: two small files in
``/proc``), plus what sockets cannot show (a share tunnel connects outwards).

    reachable_from_others() -> "it listens on 0.0.0.0:7860" | None
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


def listening_addresses(proc: Path = Path("/proc/self")) -> list[tuple[str, int]] | None:
    """(address, port) of every TCP socket this process listens on; None where this system cannot tell.

    Linux: the process's socket inodes (``fd/``) matched with ``net/tcp`` and ``net/tcp6``; elsewhere
    psutil if it is installed.
    """
    if (proc / "net" / "tcp").is_file() and (proc / "fd").is_dir():
        return _from_proc(proc)
    try:
        import psutil
    except ImportError:
        return None
    try:
        return [(c.laddr.ip, c.laddr.port) for c in psutil.Process().net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN]
    except (psutil.Error, OSError):
        return None


def _from_proc(proc: Path) -> list[tuple[str, int]]:
    inodes = set()
    for fd in os.listdir(proc / "fd"):
        try:
            target = os.readlink(proc / "fd" / fd)
        except OSError:  # closed since listed
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:  # no IPv6 here
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and fields[9] in inodes:
                address, port = fields[1].split(":")
                found.append((_address(address), int(port, 16)))
    return found


def _address(hex_address: str) -> str:
    """/proc/net's hex address (each 32-bit word in this machine's byte order) as text."""
    raw = bytes.fromhex(hex_address)
    words = [raw[i:i + 4][::-1] if sys.byteorder == "little" else raw[i:i + 4] for i in range(0, len(raw), 4)]
    return str(ipaddress.ip_address(b"".join(words)))


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1 and IPv4-mapped loopback; every other address (0.0.0.0, ::, a card's) is not."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address == "localhost"
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def reachable_from_others(*, share: bool = False, said: str | None = None,
                          ignore_ports: Iterable[int] = ()) -> str | None:
    """Why other machines can reach this process (a few words for a message), or None.

    share: a share link (a tunnel: no listening socket shows it) is open.
    said: why the front end's own settings expose it (a flag, an environment variable, a config
        value): true before it listens too, and where this system cannot list its sockets.
    ignore_ports: listening ports that serve no page (audio-webui's RVC training opens
        torch.distributed's store on every address); each is named where it is passed.
    """
    if share:
        return "it has a public share link"
    if said:
        return said
    addresses = listening_addresses()
    if addresses is None:
        return None
    skipped = set(ignore_ports)
    open_to_others = sorted({(a, p) for a, p in addresses if not is_loopback(a) and p not in skipped})
    if open_to_others:
        address, port = open_to_others[0]
        return f"it listens on {'[' + address + ']' if ':' in address else address}:{port}"
    return None


def request_from_elsewhere(request) -> str | None:
    """Why one HTTP request did not come straight from a browser on this machine at this page, or None.

    What the sockets cannot show: a forwarder or proxy in front of a server that listens on loopback
    (the request names another host, or carries forwarding headers), and another web site making the
    user's own browser send it (its ``Origin``; Gradio 3 answers every origin). ``request``: Gradio's
    Request (None when called from Python: nothing to check).
    """
    if request is None:
        return None
    headers = {str(k).lower(): str(v) for k, v in dict(getattr(request, "headers", None) or {}).items()}
    client = getattr(getattr(request, "client", None), "host", None)
    if client and not is_loopback(client):
        return f"the request came from {client}"
    if any(h in headers for h in ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")):
        return "the request came through a proxy"
    host = urlsplit(f"//{headers.get('host', '')}").hostname
    if host and not is_loopback(host):
        return f"the page was reached as {headers['host']}"
    origin = headers.get("origin")
    if origin is not None and not is_loopback(urlsplit(origin).hostname or "remote"):
        return f"the request was sent by another site ({origin})"
    return None


def model_changes_refusal(reason: str) -> str:
    """The one line a page shows when a model change is refused because of ``reason``."""
    return (f"Models cannot be changed from this page: {reason}, so anyone who reaches it could. Whoever runs it "
            "can change them on that machine.")
