"""``python -m socketify APP [OPTIONS]``: run a socketify, ASGI or WSGI app.

Every option can also come from a ``SOCKETIFY_<OPTION>`` environment
variable (``--ws-max-size`` is ``SOCKETIFY_WS_MAX_SIZE``); the command line
wins. A mistake in the command line, a module that does not import, a port in
use or a bad certificate each give one ``socketify: error:`` line and exit
code 1.
"""

from __future__ import annotations

import argparse
import errno
import functools
import importlib
import inspect
import logging
import os
import socket
import sys
import traceback
from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

from .pubsub.base import BackplaneUnavailable

__all__ = ["main", "execute", "CliError", "load_app", "detect_interface"]

logger = logging.getLogger("socketify")

PROG = "socketify"
INTERFACES = ("auto", "asgi", "asgi3", "wsgi", "ssgi", "socketify")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("0", "false", "no", "off", "n", "f")


class CliError(Exception):
    """A mistake the user can fix; printed as one line, exit code 1."""


def _error_line(message: str) -> None:
    sys.stderr.write("%s: error: %s\n" % (PROG, message))
    sys.stderr.flush()


# -- option parsing ---------------------------------------------------------


def _bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError("expected true or false, got %r" % text)


def _integer(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not %s" % (text, what))


def _port(text: str) -> int:
    value = _integer(text, "a port number")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("%d is not a port number (0-65535)" % value)
    return value


def _non_negative(text: str) -> int:
    value = _integer(text, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError("%d is negative" % value)
    return value


def _at_most(limit: int, unit: str) -> Callable[[str], int]:
    """A non-negative integer up to ``limit`` (what the core's WebSocket timers hold)."""

    def parse(text: str) -> int:
        value = _non_negative(text)
        if value > limit:
            raise argparse.ArgumentTypeError("%d is more than the %d %s WebSockets allow" % (value, limit, unit))
        return value

    return parse


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number of seconds" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("%g is negative" % value)
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 1 (argparse says 2 with the usage)
        raise CliError(message)


# (flags, dest, type, default, help); a type of _bool makes a true/false
# option: "--flag", "--flag true|false", "--flag=false" and "--no-flag".
_OPTIONS: List[Tuple[Tuple[str, ...], str, Any, Any, str]] = [
    (
        ("--host", "-h"),
        "host",
        str,
        "127.0.0.1",
        "bind to this address (default 127.0.0.1; -h is the host, use --help for help)",
    ),
    (("--port", "-p"), "port", _port, 8000, "bind to this port (default 8000; 0 picks a free one)"),
    (
        ("--workers", "-w"),
        "workers",
        _positive,
        None,
        "number of worker processes sharing the port (default $WEB_CONCURRENCY or 1)",
    ),
    (("--uds",), "uds", str, None, "listen on this UNIX socket path instead of host:port"),
    (
        ("--ws",),
        "ws",
        str,
        "auto",
        "auto (ASGI websockets for ASGI apps), none, or module:attr of a WebSocket behaviour dict "
        "or of an ASGI app whose WebSocket scopes it serves",
    ),
    (("--ws-max-size",), "ws_max_size", _non_negative, 16777216, "WebSocket max message size in bytes"),
    (("--ws-auto-ping",), "ws_auto_ping", _bool, True, "send WebSocket pings automatically"),
    (
        ("--ws-idle-timeout",),
        "ws_idle_timeout",
        _at_most(960, "seconds"),
        20,
        "WebSocket idle timeout in seconds (at most 960)",
    ),
    (("--ws-reset-idle-on-send",), "ws_reset_idle_on_send", _bool, True, "a send resets the WebSocket idle timeout"),
    (("--ws-per-message-deflate",), "ws_per_message_deflate", _bool, False, "negotiate permessage-deflate"),
    (
        ("--ws-max-lifetime",),
        "ws_max_lifetime",
        _at_most(240, "minutes"),
        0,
        "close WebSockets after this many minutes (0: never; at most 240)",
    ),
    (
        ("--ws-max-backpressure",),
        "ws_max_backpressure",
        _non_negative,
        16777216,
        "bytes a WebSocket may buffer before sends are dropped",
    ),
    (
        ("--ws-close-on-backpressure-limit",),
        "ws_close_on_backpressure_limit",
        _bool,
        False,
        "close a WebSocket that reaches the backpressure limit",
    ),
    (("--lifespan",), "lifespan", str, "auto", "auto, on or off: run the startup/shutdown hooks"),
    (("--interface",), "interface", str, "auto", "auto, asgi, asgi3, wsgi or socketify"),
    (("--factory",), "factory", _bool, False, "APP is a factory: call it (no arguments) to get the app"),
    (("--app-dir",), "app_dir", str, "", "look for APP's module here (default: the current directory)"),
    (("--disable-listen-log",), "disable_listen_log", _bool, False, "do not print the listening line"),
    (("--ssl-keyfile",), "ssl_keyfile", str, None, "TLS private key file"),
    (("--ssl-certfile",), "ssl_certfile", str, None, "TLS certificate file"),
    (("--ssl-keyfile-password",), "ssl_keyfile_password", str, None, "password of the key file"),
    (("--ssl-ca-certs",), "ssl_ca_certs", str, None, "CA certificates file (asks clients for a certificate)"),
    (("--ssl-ciphers",), "ssl_ciphers", str, None, "OpenSSL cipher list"),
    (
        ("--req-res-factory-maxitems",),
        "req_res_factory_maxitems",
        _non_negative,
        0,
        "pre-allocated request/response objects per worker",
    ),
    (("--ws-factory-maxitems",), "ws_factory_maxitems", _non_negative, 0, "pre-allocated WebSocket objects per worker"),
    (("--task-factory-maxitems",), "task_factory_maxitems", _non_negative, 100000, "reusable task pool size (PyPy)"),
    (("--reload",), "reload", _bool, False, "restart the workers when a watched file changes"),
    (("--reload-dir",), "reload_dirs", "append", None, "watch this directory (repeatable; default: the app dir)"),
    (("--reload-include",), "reload_includes", "append", None, "watch files matching this glob (default *.py)"),
    (
        ("--reload-exclude",),
        "reload_excludes",
        "append",
        None,
        "ignore files matching this glob (default .*, *.py[cod], __pycache__, *~)",
    ),
    (("--log-level",), "log_level", str, "info", "critical, error, warning, info, debug or trace"),
    (("--access-log",), "access_log", _bool, False, "log one line per request (Common Log Format)"),
    (
        ("--root-path",),
        "root_path",
        str,
        "",
        "the path prefix the app is mounted at behind a proxy (ASGI root_path, WSGI SCRIPT_NAME; "
        "socketify routes are served under it)",
    ),
    (
        ("--proxy-headers",),
        "proxy_headers",
        _bool,
        False,
        "trust X-Forwarded-For/X-Forwarded-Proto from --forwarded-allow-ips",
    ),
    (
        ("--forwarded-allow-ips",),
        "forwarded_allow_ips",
        str,
        None,
        "proxies whose X-Forwarded-* headers are trusted: addresses or networks, comma separated, "
        "or * (default $FORWARDED_ALLOW_IPS or 127.0.0.1)",
    ),
    (
        ("--limit-concurrency",),
        "limit_concurrency",
        _positive,
        None,
        "answer 503 above this many connections (socketify) or requests in progress (ASGI/WSGI) per worker",
    ),
    (
        ("--timeout-keep-alive",),
        "timeout_keep_alive",
        _positive,
        10,
        "close keep-alive connections idle for this many seconds",
    ),
    (
        ("--timeout-graceful-shutdown",),
        "timeout_graceful_shutdown",
        _seconds,
        30.0,
        "on SIGTERM/SIGINT, wait this long for requests in flight before closing them",
    ),
    (("--env-file",), "env_file", str, None, "load KEY=VALUE lines into the environment first"),
    (
        ("--pubsub-url",),
        "pubsub_url",
        str,
        None,
        "carry WebSocket pub/sub across workers and machines through this Redis "
        "(redis://host:port/db); each worker connects on its own",
    ),
]
_BOOL_FLAGS = {flags[0] for flags, _, kind, _, _ in _OPTIONS if kind is _bool}


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        add_help=False,
        allow_abbrev=False,
        usage="%s APP [OPTIONS]   (python -m socketify APP [OPTIONS])" % PROG,
        description="Run a socketify app (an App, a run(app) function or a factory), an ASGI 3 app "
        "or a WSGI app. APP is module:attribute (a dotted attribute path; "
        "module:factory() calls a factory). Every option can also be set with a "
        "SOCKETIFY_<OPTION> environment variable. Note: -h is --host, as in the "
        "reference CLI; help is --help.",
    )
    parser.add_argument("app", nargs="?", metavar="APP", help="module:attribute")
    for flags, dest, kind, _default, text in _OPTIONS:
        if kind == "append":
            parser.add_argument(*flags, dest=dest, action="append", help=text)
        else:
            metavar = "BOOL" if kind is _bool else None
            parser.add_argument(*flags, dest=dest, type=kind, default=None, metavar=metavar, help=text)
    parser.add_argument("--help", action="store_true", dest="help", help="show this help and exit")
    parser.add_argument("--version", "-v", action="store_true", dest="version", help="show the version and exit")
    return parser


def _normalize_bools(argv: Sequence[str]) -> List[str]:
    """``--flag`` alone means true, ``--flag false``/``--flag=false`` false,
    ``--no-flag`` false, for every true/false option."""
    out: List[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        name = token.split("=", 1)[0]
        if token.startswith("--no-") and "=" not in token and "--" + token[5:] in _BOOL_FLAGS:
            out.append("--%s=false" % token[5:])
        elif name in _BOOL_FLAGS and "=" not in token:
            following = argv[i + 1] if i + 1 < len(argv) else None
            if following is not None and following.strip().lower() in _TRUE + _FALSE:
                out.append("%s=%s" % (token, following))
                i += 1
            else:
                out.append(token + "=true")
        else:
            out.append(token)
        i += 1
    return out


def _env_name(dest: str) -> str:
    return "SOCKETIFY_" + dest.upper()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The options: command line, then SOCKETIFY_* variables, then the defaults."""
    parser = _parser()
    args = parser.parse_args(_normalize_bools(list(argv)))
    if args.help or args.version:
        return args
    env_file = args.env_file or os.environ.get(_env_name("env_file"))
    if env_file:
        load_env_file(env_file)
        args.env_file = env_file
    for _flags, dest, kind, default, _text in _OPTIONS:
        if getattr(args, dest) is not None:
            continue
        raw = os.environ.get(_env_name(dest))
        if raw is not None and raw != "":
            if kind == "append":
                value: Any = [part for part in raw.split(os.pathsep if dest == "reload_dirs" else ",") if part]
            else:
                try:
                    value = kind(raw)
                except (argparse.ArgumentTypeError, ValueError) as error:
                    raise CliError("%s=%r: %s" % (_env_name(dest), raw, error))
        else:
            value = default
        setattr(args, dest, value)
    if args.app is None:
        args.app = os.environ.get("SOCKETIFY_APP")
    if args.workers is None:
        concurrency = os.environ.get("WEB_CONCURRENCY")
        try:
            args.workers = _positive(concurrency) if concurrency else 1
        except argparse.ArgumentTypeError as error:
            raise CliError("WEB_CONCURRENCY=%r: %s" % (concurrency, error))
    if args.forwarded_allow_ips is None:
        args.forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    _check(args)
    return args


def _check(args: argparse.Namespace) -> None:
    if not args.app:
        raise CliError("APP is missing: give module:attribute (see --help)")
    if args.interface not in INTERFACES:
        raise CliError("--interface must be one of %s, not %r" % (", ".join(INTERFACES), args.interface))
    if args.interface == "ssgi":
        raise CliError("--interface ssgi is not supported: SSGI is an unfinished draft")
    if args.lifespan not in ("auto", "on", "off"):
        raise CliError("--lifespan must be auto, on or off, not %r" % args.lifespan)
    if args.log_level.lower() not in LOG_LEVELS:
        raise CliError("--log-level must be one of %s, not %r" % (", ".join(LOG_LEVELS), args.log_level))
    if args.root_path and not args.root_path.startswith("/"):
        raise CliError("--root-path must start with /, not %r" % args.root_path)
    for flag, path in (
        ("--ssl-keyfile", args.ssl_keyfile),
        ("--ssl-certfile", args.ssl_certfile),
        ("--ssl-ca-certs", args.ssl_ca_certs),
        ("--env-file", args.env_file),
    ):
        if path and not os.path.isfile(path):
            raise CliError("%s: no such file: %s" % (flag, path))
    if bool(args.ssl_keyfile) != bool(args.ssl_certfile):
        raise CliError("TLS needs both --ssl-keyfile and --ssl-certfile")
    for directory in args.reload_dirs or ():
        if not os.path.isdir(directory):
            raise CliError("--reload-dir: no such directory: %s" % directory)
    if args.app_dir and not os.path.isdir(args.app_dir):
        raise CliError("--app-dir: no such directory: %s" % args.app_dir)
    from ._serve import TrustedProxies

    try:
        TrustedProxies(args.forwarded_allow_ips)
    except ValueError as error:
        raise CliError(str(error))


# What --env-file put into os.environ, so that reading it again (SIGHUP)
# updates those values and still leaves the real environment's alone.
_from_env_file: Dict[str, str] = {}


def load_env_file(path: str) -> None:
    """Adds ``KEY=VALUE`` lines (``#`` comments, ``export``, quotes) to
    os.environ; variables the environment already had are kept. Called
    again, it updates (or removes) what it set before."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as error:
        raise CliError("--env-file: cannot read %s: %s" % (path, error.strerror or error))
    values: Dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise CliError("--env-file %s line %d: expected KEY=VALUE" % (path, number))
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    for key, value in values.items():
        current = os.environ.get(key)
        if current is not None and _from_env_file.get(key) != current:
            continue  # the real environment's
        os.environ[key] = value
        _from_env_file[key] = value
    for key in [key for key in _from_env_file if key not in values]:
        if os.environ.get(key) == _from_env_file.pop(key):
            del os.environ[key]


def version() -> str:
    """The installed distribution's version; the source tree's when the
    package runs from a checkout (or another socketify is what is installed)."""
    from . import __version__

    try:
        from importlib.metadata import PackageNotFoundError, version as dist_version

        try:
            installed = dist_version("socketify")
        except PackageNotFoundError:
            installed = None
    except ImportError:
        installed = None
    if installed == __version__:
        return installed
    return "%s (source tree %s)" % (__version__, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- loading the app --------------------------------------------------------


class _ImportFailed(CliError):
    """The module raised while importing: its traceback goes with the line."""


def load_app(spec: str, factory: bool = False) -> Any:
    """Imports ``module:attr.path`` (or ``module:factory()``) and returns the object."""
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise CliError("APP must be module:attribute, not %r" % spec)
    call = attr_path.endswith("()")
    if call:
        attr_path = attr_path[:-2]
    try:
        module = importlib.import_module(module_name)
    except BaseException as error:  # the module's own error, SystemExit included
        if isinstance(error, KeyboardInterrupt):
            raise
        if (
            isinstance(error, ModuleNotFoundError)
            and error.name == module_name.split(".")[0]
            or isinstance(error, ModuleNotFoundError)
            and error.name == module_name
        ):
            raise CliError(
                "cannot import %r: no module named %r (looked in %s)" % (module_name, error.name, sys.path[0] or ".")
            )
        traceback.print_exception(type(error), error, error.__traceback__.tb_next)  # type: ignore[union-attr]  # set: it is being handled
        raise _ImportFailed("cannot import %r: %s: %s" % (module_name, type(error).__name__, error))
    target: Any = module
    walked = module_name
    for part in attr_path.split("."):
        if not part.isidentifier():
            raise CliError("APP attribute %r is not a name" % attr_path)
        try:
            target = getattr(target, part)
        except AttributeError:
            raise CliError("%r has no attribute %r" % (walked, part))
        walked += (":" if walked == module_name else ".") + part
    if call or factory:
        if not callable(target):
            raise CliError("%s is not callable, so it cannot be a factory" % spec)
        try:
            target = target()
        except Exception as error:
            traceback.print_exception(type(error), error, error.__traceback__.tb_next)  # type: ignore[union-attr]  # set: it is being handled
            raise _ImportFailed("the factory %s failed: %s: %s" % (spec, type(error).__name__, error))
    return target


def _positional_count(fn: Callable) -> Optional[int]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in signature.parameters.values():
        if parameter.kind == parameter.VAR_POSITIONAL:
            return None
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def _is_async_callable(obj: Any) -> bool:
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(obj, "__call__", None)  # noqa: B004 - read to inspect it, not to test callability
    return call is not None and inspect.iscoroutinefunction(call)


def detect_interface(obj: Any) -> str:
    """socketify (an App or a run(app) function), asgi or wsgi."""
    from .app import App

    if isinstance(obj, App):
        return "socketify"
    if not callable(obj) or isinstance(obj, type):
        raise CliError("the app is a %s, not an App, a run(app) function, an ASGI or a WSGI app" % type(obj).__name__)
    if _is_async_callable(obj):
        return "asgi"  # async def app(scope, receive, send), or a class with async __call__
    count = _positional_count(obj)
    if count == 3:
        return "asgi"  # a sync callable returning the coroutine (e.g. some middleware)
    if count == 2:
        return "wsgi"
    if count == 1:
        return "socketify"  # def run(app): app.get(...)
    raise CliError("cannot tell which interface the app speaks; use --interface asgi|wsgi|socketify")


def _check_forced(obj: Any, interface: str) -> None:
    from .app import App

    if interface == "socketify":
        if not isinstance(obj, App) and not (callable(obj) and _positional_count(obj) in (1, None)):
            raise CliError("--interface socketify needs an App or a run(app) function")
    elif interface == "asgi":
        if not callable(obj) or not (_is_async_callable(obj) or _positional_count(obj) in (3, None)):
            raise CliError("--interface asgi needs an ASGI 3 app: async (scope, receive, send)")
    elif interface == "wsgi":
        if not callable(obj) or _is_async_callable(obj) or _positional_count(obj) not in (2, None):
            raise CliError("--interface wsgi needs a WSGI app: (environ, start_response)")


# -- one worker's server ----------------------------------------------------


def _tls_options(args: argparse.Namespace):
    if not args.ssl_keyfile:
        return None
    from .options import AppOptions

    return AppOptions(
        key_file_name=args.ssl_keyfile,
        cert_file_name=args.ssl_certfile,
        passphrase=args.ssl_keyfile_password,
        ca_file_name=args.ssl_ca_certs,
        ssl_ciphers=args.ssl_ciphers,
    )


def _check_tls(options) -> None:
    """Loads the key and certificate once, so that a bad file or password is one clear line."""
    from .app import App

    try:
        probe = App(options)
    except RuntimeError as error:
        raise CliError("TLS: %s" % error)
    probe.dispose()


def _websocket_options(args: argparse.Namespace) -> Dict[str, Any]:
    return {
        "compression": bool(args.ws_per_message_deflate),
        "max_payload_length": args.ws_max_size,
        "idle_timeout": args.ws_idle_timeout,
        "max_backpressure": args.ws_max_backpressure,
        "max_lifetime": args.ws_max_lifetime,
        "close_on_backpressure_limit": int(args.ws_close_on_backpressure_limit),
        "reset_idle_timeout_on_send": bool(args.ws_reset_idle_on_send),
        "send_pings_automatically": bool(args.ws_auto_ping),
    }


def _features(args: argparse.Namespace):
    from ._serve import Features, TrustedProxies

    proxy = TrustedProxies(args.forwarded_allow_ips) if args.proxy_headers else None
    return Features(
        access_log=args.access_log, proxy=proxy, root_path=args.root_path, limit_concurrency=args.limit_concurrency
    )


def _scheme(args: argparse.Namespace) -> str:
    return "https" if args.ssl_keyfile else "http"


def listen_line(args: argparse.Namespace, port: Optional[int] = None, workers: int = 1) -> str:
    """The line printed once the server listens."""
    suffix = " (%d workers)" % workers if workers > 1 else ""
    if args.uds:
        return "Listening on unix:%s now%s" % (os.path.abspath(args.uds), suffix)
    host = args.host if ":" not in args.host else "[%s]" % args.host
    return "Listening on %s://%s:%d now%s" % (_scheme(args), host, args.port if port is None else port, suffix)


def _print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def serve(args: argparse.Namespace, supervised: bool) -> None:
    """Imports the app and serves it in this process until SIGTERM/SIGINT."""
    features = _features(args)
    options = _tls_options(args)
    lifespan = args.lifespan != "off"
    if args.pubsub_url:
        from .pubsub import backplane_from_url

        try:
            backplane_from_url(args.pubsub_url)  # a bad URL, or no redis package, fails here in one line
        except (ValueError, ImportError) as error:
            raise CliError("--pubsub-url: %s" % error)
    from .app import set_app_defaults

    set_app_defaults(  # Apps the program builds itself get these; its explicit arguments win
        options=options,
        request_response_factory_max_items=args.req_res_factory_maxitems,
        websocket_factory_max_items=args.ws_factory_maxitems,
        task_factory_max_items=args.task_factory_maxitems,
        lifespan=lifespan,
        idle_timeout=args.timeout_keep_alive,
        graceful_shutdown_timeout=args.timeout_graceful_shutdown,
        pubsub=args.pubsub_url,  # each App makes its own backplane from the URL
    )
    if args.interface in ("auto", "socketify") and features.active:
        from ._serve import socketify_route_hook
        from .app import App

        App._route_hook = socketify_route_hook(features)  # before the module builds its routes
    target = load_app(args.app, args.factory)
    interface = args.interface
    if interface == "asgi3":
        interface = "asgi"
    if interface == "auto":
        interface = detect_interface(target)
    else:
        _check_forced(target, interface)
    if interface != "socketify":
        from .app import App

        App._route_hook = None
    if args.uds:
        from .options import AppListenOptions

        where: Any = AppListenOptions(domain=args.uds)
    else:
        where = {"host": args.host, "port": args.port}

    def on_listen(config) -> None:
        if not supervised and not args.disable_listen_log:
            _print_line(listen_line(args, getattr(config, "port", None) or args.port))

    if interface == "socketify":
        _serve_socketify(args, target, where, on_listen)
    else:
        _serve_adapter(args, interface, target, where, on_listen, features, options, lifespan)


def _serve_socketify(args, target, where, on_listen) -> None:
    from .app import App

    app = target if isinstance(target, App) else App()
    if app is not target:
        result = target(app)
        if isinstance(result, App):
            app = result
    if args.ws not in ("auto", "none"):
        behavior = load_app(args.ws)
        if not isinstance(behavior, dict):
            raise CliError("--ws %s must be a WebSocket behaviour dict for a socketify app" % args.ws)
        behavior = dict(behavior)
        options = _websocket_options(args)
        options["compression"] = 1 if options["compression"] else 0
        for key, value in options.items():
            behavior.setdefault(key, value)
        app.ws("/*", behavior)
    try:
        app.listen(where, on_listen)
    except (RuntimeError, BackplaneUnavailable) as error:  # a busy port, an unreachable --pubsub-url
        raise CliError(str(error))
    app.run()


def _serve_adapter(args, interface, target, where, on_listen, features, options, lifespan) -> None:
    module_name = "socketify.asgi" if interface == "asgi" else "socketify.wsgi"
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        if getattr(error, "name", None) == module_name:
            raise CliError(
                "the %s interface needs %s, which this installation lacks" % (interface.upper(), module_name)
            )
        raise
    if features.active:
        from ._serve import asgi_wrapper, wsgi_wrapper

        target = (asgi_wrapper if interface == "asgi" else wsgi_wrapper)(target, features)
    if args.ws == "none":
        websocket: Any = False if interface == "asgi" else None
    elif args.ws == "auto":
        websocket = True if interface == "asgi" else None
    else:
        websocket = load_app(args.ws)
        if not isinstance(websocket, dict) and not callable(websocket):
            raise CliError("--ws %s: not a WebSocket behaviour dict nor an ASGI application" % args.ws)
        if not isinstance(websocket, dict) and features.active:
            from ._serve import asgi_wrapper

            websocket = asgi_wrapper(websocket, features)  # its scopes get --root-path, the proxy's client...
    server_class = module.ASGI if interface == "asgi" else module.WSGI
    server = server_class(
        target,
        options=options,
        websocket=websocket,
        websocket_options=_websocket_options(args),
        task_factory_max_items=args.task_factory_maxitems,
        lifespan=lifespan,
    )
    if interface == "wsgi" and args.workers > 1:
        server._multiprocess = True  # wsgi.multiprocess: this is one of several workers
    if interface == "asgi" and args.lifespan == "on":
        server._lifespan_required = True
    if interface == "wsgi" and features.limit is not None:
        from ._serve import limit_wsgi

        limit_wsgi(server, features)
    try:
        server.listen(where, on_listen)
        server.run(workers=1, block=True)
    except BackplaneUnavailable as error:
        raise CliError(str(error))
    except SystemExit as exit_:
        if isinstance(exit_.code, str):  # lifespan startup failed, or unsupported with --lifespan on
            raise CliError(exit_.code)
        raise
    except RuntimeError as error:
        if "listen" in str(error).lower():
            raise CliError(str(error))
        raise


# -- checks made once, before any worker starts ------------------------------


def _claim_port(args: argparse.Namespace) -> None:
    """Fails (one line) when another process listens on the port; resolves port 0."""
    try:
        infos = socket.getaddrinfo(args.host or None, args.port, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise CliError("cannot use host %r: %s" % (args.host, error.strerror or error))
    family, kind, proto, _, address = infos[0]
    probe = socket.socket(family, kind, proto)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
        if args.port == 0:
            args.port = probe.getsockname()[1]
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise CliError("port %d on %s is already in use" % (args.port, args.host))
        raise CliError("cannot listen on %s:%d: %s" % (args.host, args.port, error.strerror or error))
    finally:
        probe.close()


def _configure_logging(level_name: str) -> None:
    level_name = level_name.lower()
    level = 5 if level_name == "trace" else getattr(logging, level_name.upper())
    logging.addLevelName(5, "TRACE")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    access = logging.getLogger("socketify.access")
    access_handler = logging.StreamHandler(sys.stderr)
    access_handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(access_handler)
    access.propagate = False


def _reload_watcher(args: argparse.Namespace, app_dir: str) -> Callable[[], bool]:
    from ._reload import FileWatcher

    dirs = args.reload_dirs or [app_dir]
    includes = args.reload_includes or ["*.py"]
    excludes = args.reload_excludes or [".*", "*.py[cod]", "__pycache__", "*~"]
    return FileWatcher(dirs, includes, excludes).changed


def _run_worker(args: argparse.Namespace) -> None:
    """One supervised worker; errors that are the user's to fix are one line."""
    from .workers import BOOT_FAILED

    try:
        serve(args, supervised=True)
    except _ImportFailed as error:
        _error_line(str(error))
        raise SystemExit(BOOT_FAILED)
    except CliError as error:
        _error_line(str(error))
        raise SystemExit(BOOT_FAILED)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the CLI; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parse_args(argv)
    except CliError as error:
        _error_line(str(error))
        return 1
    if args.help:
        _parser().print_help()
        return 0
    if args.version:
        _print_line("socketify %s (%s %s)" % (version(), sys.implementation.name, sys.version.split()[0]))
        return 0
    _configure_logging(args.log_level)
    app_dir = os.path.abspath(args.app_dir or os.getcwd())
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    try:
        options = _tls_options(args)
        if options is not None:
            _check_tls(options)  # once, here: one line for a bad file or password
        if not args.uds:
            _claim_port(args)
    except CliError as error:
        _error_line(str(error))
        return 1
    if args.workers == 1 and not args.reload:
        try:
            serve(args, supervised=False)
        except CliError as error:
            _error_line(str(error))
            return 1
        return 0
    from .workers import run_workers

    def ready(count: int) -> None:
        if not args.disable_listen_log:
            _print_line(listen_line(args, workers=count))

    def reread_env_file() -> None:
        try:
            load_env_file(args.env_file)
        except CliError as error:  # the running workers stay as they are
            logger.error("%s; the new workers get the environment as it was", error)

    try:
        watch = _reload_watcher(args, app_dir) if args.reload else None
        return run_workers(
            lambda: _run_worker(args),
            args.workers,
            graceful_timeout=args.timeout_graceful_shutdown,
            uds=args.uds,
            bind=None if args.uds else (args.host, args.port),
            keep_going=bool(args.reload),
            on_ready=ready,
            watch=watch,
            on_reload=reread_env_file if args.env_file else None,
        )
    except OSError as error:  # binding the shared sockets
        where = args.uds or "%s:%d" % (args.host, args.port)
        _error_line("cannot listen on %s: %s" % (where, error.strerror or error))
        return 1


def execute(argv: Sequence[str]) -> int:
    """The reference's entry point: ``execute(sys.argv)``."""
    return main(list(argv)[1:])


if __name__ == "__main__":
    sys.exit(main())
