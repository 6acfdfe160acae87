"""Option dataclasses: AppOptions (TLS) and AppListenOptions."""

from dataclasses import dataclass
from typing import Optional

__all__ = ["AppOptions", "AppListenOptions"]


@dataclass
class AppListenOptions:
    """Where to listen: a TCP host/port, or a UNIX domain socket path (``domain``).

    ``options``: ``EXCLUSIVE_PORT`` (1) turns SO_REUSEPORT off, ``REUSE_PORT``
    (2) shares the port on purpose. ``reuse_port``: True is ``REUSE_PORT``,
    False is ``EXCLUSIVE_PORT``; None (the default) shares the port but warns
    when another server already listens on it.
    """

    EXCLUSIVE_PORT = 1  # class constants, not fields (no annotation)
    REUSE_PORT = 2

    port: int = 0
    host: Optional[str] = None
    options: int = 0
    domain: Optional[str] = None
    reuse_port: Optional[bool] = None

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or isinstance(self.port, bool):
            raise RuntimeError("port must be an int")
        if not 0 <= self.port <= 65535:
            raise RuntimeError("port must be between 0 and 65535")
        if self.host is not None and not isinstance(self.host, str):
            raise RuntimeError("host must be a str or None")
        if not isinstance(self.options, int):
            raise RuntimeError("options must be an int")
        if self.reuse_port not in (None, True, False):
            raise RuntimeError("reuse_port must be True, False or None")
        exclusive = self.options & self.EXCLUSIVE_PORT or self.reuse_port is False
        if exclusive and (self.options & self.REUSE_PORT or self.reuse_port):
            raise RuntimeError(
                "an exclusive port (options=1 or reuse_port=False) cannot also be shared (options=2 or reuse_port=True)"
            )
        if self.domain is not None:
            if not isinstance(self.domain, str):
                raise RuntimeError("domain must be a str or None")
            if self.host is not None or self.port != 0:
                raise RuntimeError("domain cannot be combined with host or port")


@dataclass
class AppOptions:
    """TLS settings; passing one to ``App`` makes it an HTTPS/WSS app."""

    key_file_name: Optional[str] = None
    cert_file_name: Optional[str] = None
    passphrase: Optional[str] = None
    dh_params_file_name: Optional[str] = None
    ca_file_name: Optional[str] = None
    ssl_ciphers: Optional[str] = None
    # Accepted for compatibility: idle connections always release their TLS
    # record buffers.
    ssl_prefer_low_memory_usage: int = 0

    def __post_init__(self) -> None:
        for name in (
            "key_file_name",
            "cert_file_name",
            "passphrase",
            "dh_params_file_name",
            "ca_file_name",
            "ssl_ciphers",
        ):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise RuntimeError("%s must be a str or None" % name)
        if not isinstance(self.ssl_prefer_low_memory_usage, int):
            raise RuntimeError("ssl_prefer_low_memory_usage must be an int")
