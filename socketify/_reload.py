"""``--reload``: notices file changes by polling modification times (no dependency)."""

from __future__ import annotations

import fnmatch
import os
from typing import Dict, Iterable, List, Tuple

__all__ = ["FileWatcher"]


class FileWatcher:
    """Files under ``dirs`` matching ``includes`` and none of ``excludes``."""

    def __init__(self, dirs: Iterable[str], includes: List[str], excludes: List[str]) -> None:
        self.dirs = [os.path.abspath(d) for d in dirs]
        self.includes = includes
        self.excludes = excludes
        self.snapshot = self._scan()

    def _excluded(self, name: str) -> bool:
        return any(fnmatch.fnmatch(name, pattern) for pattern in self.excludes)

    def _scan(self) -> Dict[str, Tuple[int, int]]:
        found: Dict[str, Tuple[int, int]] = {}
        stack = list(self.dirs)
        while stack:
            directory = stack.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue
            for entry in entries:
                if self._excluded(entry.name):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif any(fnmatch.fnmatch(entry.name, p) for p in self.includes):
                        st = entry.stat()
                        found[entry.path] = (st.st_mtime_ns, st.st_size)
                except OSError:
                    continue
        return found

    def changed(self) -> bool:
        """True when a watched file was added, removed or modified since the last call."""
        current = self._scan()
        if current != self.snapshot:
            self.snapshot = current
            return True
        return False
