"""Who may open a connection with a PROXY protocol header: ``App(proxy_protocol=...)``."""

import ipaddress
from typing import Any, List, Tuple

from ._binding import check, ffi, lib

__all__ = ["proxy_protocol_mode", "trust_proxies"]


def proxy_protocol_mode(value: Any) -> Tuple[int, List[Any]]:
    """(SK_PROXY_ACCEPT_* mode, trusted networks) for ``App(proxy_protocol=value)``:
    True from any client, False from nobody, or addresses/networks
    (``"10.0.0.0/8"``, ``"::1"``) of the proxies to trust."""
    if value is True:
        return lib.SK_PROXY_ACCEPT_ANY, []
    if value is False:
        return lib.SK_PROXY_ACCEPT_NONE, []
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError("proxy_protocol must be True, False or a list of trusted addresses or networks")
    networks = []
    for entry in value:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError("proxy_protocol: %r is not an IP address or network" % (entry,)) from None
    return lib.SK_PROXY_ACCEPT_TRUSTED, networks


def trust_proxies(native, networks: List[Any]) -> None:
    """Hands the trusted networks to the core."""
    for network in networks:
        packed = network.network_address.packed
        check(lib.sk_app_trust_proxy(native, ffi.from_buffer(packed), len(packed), network.prefixlen))
