"""Files and folders the user asks us to write: checked before any work, so that a long run
does not end on a permission error, and every error names the path the user gave."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from data.errors import InputError, OutputPathError

__all__ = ["check_distinct", "check_output_dir", "check_output_file"]


def check_distinct(**targets: str | None) -> None:
    """Every output of one command names its own path (``--out M --archive M`` would write the
    screen to ``M`` and then fail to make ``M`` a folder): checked before any work.  Keyword
    names are the options without dashes (``out="M"`` is ``--out``)."""
    seen: dict[Path, str] = {}
    for option, value in targets.items():
        if not value:
            continue
        path = Path(value).expanduser().resolve()
        flag = "--" + option.replace("_", "-")
        if path in seen:
            raise InputError(f"{seen[path]} and {flag} name the same path {value}")
        seen[path] = flag


def check_output_file(path: str | Path) -> Path:
    """A file we may write: not a folder, in a folder that exists and is writable (checked
    before any work, so a long run does not end on a permission error)."""
    p = Path(path)
    if p.is_dir():
        raise OutputPathError(p, "it is a folder; give a file name")
    parent = p.parent
    if not parent.is_dir():
        raise OutputPathError(p, f"folder {parent} does not exist")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputPathError(p, "permission denied")
    _probe(parent, p)
    return p


def _probe(folder: Path, asked: Path) -> None:
    """Create and remove a temporary file in ``folder``: the only check that holds for root, on
    read-only mounts and on special filesystems alike."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".aigap-probe.", dir=folder)
    except OSError as e:
        raise OutputPathError(asked, e.strerror or type(e).__name__) from None
    os.close(fd)
    os.unlink(tmp)


def check_output_dir(path: str | Path) -> Path:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputPathError(p, "it exists and is not a folder")
    probe = p
    while not probe.exists():  # the first existing ancestor must let us create the folder
        probe = probe.parent
    if probe.is_dir():
        _probe(probe, p)
    else:
        raise OutputPathError(p, f"{probe} is not a folder")
    return p
