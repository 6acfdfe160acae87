"""The default JSON serializer: ``json.dumps``'s exact output, faster.

``json.dumps(obj)`` builds a new C encoder on every call (plus two Python
frames around it); a response that sends a dict pays that each time. Here the
C encoder is built once, with the arguments ``json.dumps`` uses by default.
Where the interpreter has no C encoder (PyPy), ``json.dumps`` itself is used.
"""

import json
import threading
from json import encoder as _encoder
from typing import Any

__all__ = ["DefaultJSON", "default_json"]


class DefaultJSON:
    """``dumps``/``loads`` like the ``json`` module with default arguments."""

    loads = staticmethod(json.loads)

    def __init__(self) -> None:
        make = getattr(_encoder, "c_make_encoder", None)
        self._markers: dict = {}
        self._encode = None
        # The markers dict is one per encode in progress: a second one (another
        # thread, or a re-entrant call) takes json.dumps instead.
        self._in_use = threading.Lock()
        if make is not None:
            defaults = json.JSONEncoder()
            self._encode = make(
                self._markers,  # check_circular=True
                defaults.default,
                _encoder.encode_basestring_ascii,  # ensure_ascii=True
                None,  # indent
                defaults.key_separator,
                defaults.item_separator,
                False,  # sort_keys
                False,  # skipkeys
                True,  # allow_nan
            )

    def dumps(self, obj: Any) -> str:
        encode = self._encode
        if encode is None or type(obj) is str or not self._in_use.acquire(False):
            return json.dumps(obj)
        try:
            return "".join(encode(obj, 0))
        except BaseException:
            # A failed encode may leave ids in the circular-reference markers;
            # the next call must start clean.
            self._markers.clear()
            raise
        finally:
            self._in_use.release()


default_json = DefaultJSON()
