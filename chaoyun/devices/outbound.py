"""Outbound HTTP to addresses that enterprise users choose (alarm webhooks), without becoming a way into
the platform's own network (SSRF).

- The host is resolved first and *every* address it resolves to must be a public unicast address:
  loopback, private (RFC 1918, unique-local), link-local (169.254/16 including the cloud metadata
  address 169.254.169.254, fe80::/10), shared (100.64/10, e.g. 100.100.100.200), multicast, reserved,
  unspecified and documentation ranges are refused, IPv4-mapped/compatible/6to4/Teredo IPv6 are judged
  by the IPv4 inside. Odd spellings (``0x7f000001``, ``2130706433``, ``127.1``) are resolved by the
  system resolver into the address they mean, and that address is what is checked.
- The check runs when a webhook is saved and again right before each delivery, and the connection is
  made to the address that was checked (pinned), so a DNS answer that changes in between (rebinding)
  cannot redirect it. HTTPS still verifies the certificate against the host name.
- Redirects are not followed (http.client never follows them); a 3xx counts as not delivered.
- Callers learn only delivered / not delivered; the reason goes to the server log.

``CHAOYUN_WEBHOOK_ALLOW_PRIVATE=1`` lifts the address check (tests with a local receiver, or an intranet
deployment whose receivers are internal).
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from chaoyun.errors import Invalid
from chaoyun.i18n import N_
from chaoyun.settings import env

log = logging.getLogger("chaoyun.webhooks")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Named explicitly as well (most are also caught by is_global): metadata services of common clouds.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, Tencent, Huawei, OpenStack
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
}
_BLOCKED_NETS = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15")]

MSG_ADDRESS = N_(
    "The webhook must point to a public internet address; loopback, private, link-local, multicast, "
    "reserved and cloud metadata addresses are refused."
)
MSG_URL = N_("Give the webhook an http(s) URL with a host name.")
MSG_RESOLVE = N_("The webhook's host name could not be resolved.")


def allow_private() -> bool:
    return env("WEBHOOK_ALLOW_PRIVATE") == "1"


def _inner_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    # IPv4-compatible (::a.b.c.d, deprecated) still reaches the IPv4 host on some stacks.
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        inner = _inner_v4(ip)
        if inner is not None:
            return is_public(inner)
    if ip in METADATA or any(ip in n for n in _BLOCKED_NETS if n.version == ip.version):
        return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified
    )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked address the connection goes to


def resolve(url: str) -> Target:
    """Parse and resolve ``url``; raise Invalid (field ``url``) unless every address is allowed."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise Invalid(MSG_URL, field="url") from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise Invalid(MSG_URL, field="url")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise Invalid(MSG_RESOLVE, field="url") from None
    addrs: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]
        try:
            addrs.append(ipaddress.ip_address(raw))
        except ValueError:
            continue
    if not addrs:
        raise Invalid(MSG_RESOLVE, field="url")
    if not allow_private() and not all(is_public(a) for a in addrs):
        raise Invalid(MSG_ADDRESS, field="url")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, str(addrs[0]))


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        self._ctx = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._ctx)
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # Certificate and SNI for the host name, the TCP connection to the checked address.
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 5.0) -> bool:
    """POST ``body``; True for a 2xx answer. Everything else (refused address, error, 3xx) is False and
    logged with its reason; nothing of it goes back to the caller."""
    try:
        target = resolve(url)
    except Invalid as exc:
        log.warning("webhook to %s refused: %s", url, exc.msgid)
        return False
    conn_cls = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    conn = conn_cls(target, timeout)
    try:
        conn.request("POST", target.path, body=body, headers={"Content-Type": "application/json", **headers})
        resp = conn.getresponse()
        status = resp.status
        resp.read(65536)
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        log.warning("webhook to %s (%s) failed: %s", url, target.address, exc)
        return False
    finally:
        conn.close()
    if not 200 <= status < 300:
        log.warning("webhook to %s (%s) answered HTTP %s", url, target.address, status)
        return False
    return True
