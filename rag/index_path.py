"""Where an index may be written, checked before anything is built or written.

Writing an index replaces what is at its path: the path becomes a link to the new build, kept
in `<path>.builds/` (rag/store.py). So the path must hold nothing that would be lost: it must be
absent, an empty folder, or an index this tool made (the link to its builds, or an index folder
of the layout before builds were linked that holds only the files its manifest lists). It may
not be, or lie in, a folder the index is built from, and its folder must be writable.
`check_index_path` refuses anything else with IndexPathRefused, in one line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rag import manifest as manifest_file
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound, IndexPathRefused

ENTRIES_SHOWN = 3


def builds_folder(path: Path) -> Path:
    """Where the builds the index path links to are kept: `data/index` -> `data/index.builds`."""
    return path.parent / f"{path.name}.builds"


def is_index_link(path: Path) -> bool:
    """A symbolic link this tool made: it points into the index's builds folder."""
    if not path.is_symlink():
        return False
    target = Path(os.path.normpath(path.parent / os.readlink(path)))
    return target.parent == Path(os.path.normpath(builds_folder(path)))


def is_index_folder(folder: Path) -> bool:
    """A folder holding one index of this tool and nothing else (the layout before builds were
    linked, or a build itself): a manifest, and only files that manifest lists."""
    try:
        listed = manifest_file.read_manifest(folder).files
    except (IndexNotFound, IndexCorrupt, IndexMismatch):
        return False
    owned = {Path(name).parts[0] for name in listed} | {manifest_file.MANIFEST}
    return bool(listed) and all(entry.name in owned for entry in folder.iterdir())


def check_index_path(path: Path, sources: Sequence[Path] = ()) -> None:
    """Refuse, before anything is written, an index path whose contents writing would destroy,
    that is or lies in one of the `sources` folders, or that cannot be written: it must be
    absent, an empty folder, or an index this tool made (the link to its builds or an index
    folder), and its folder must be writable."""
    check_outside(path, sources)
    shown = str(path)
    if path.name in ("", ".", ".."):  # «.», «..», «/»: a folder the index cannot be linked as
        raise IndexPathRefused(f"{shown} is not a folder name; name the index folder in --out")
    if path.is_symlink():
        if not is_index_link(path):
            raise IndexPathRefused(
                f"{shown} is a symbolic link that rag index did not make; remove it or choose "
                "another --out"
            )
    elif path.is_dir():
        try:
            entries = sorted(path.iterdir())
        except OSError as exc:
            raise IndexPathRefused(f"cannot read {shown} ({exc.strerror or exc})") from exc
        if entries and not is_index_folder(path):
            names = [f"{e.name}/" if e.is_dir() else e.name for e in entries[:ENTRIES_SHOWN]]
            more = ", …" if len(entries) > ENTRIES_SHOWN else ""
            raise IndexPathRefused(
                f"{shown} is a folder of other files ({', '.join(names)}{more}), not an index "
                "made by rag index; nothing was changed. Choose a new or empty folder for --out"
            )
    elif path.exists():
        raise IndexPathRefused(f"{shown} is a file, not an index; choose another --out")
    check_writable(builds_folder(Path(os.path.abspath(path))), shown)


def check_writable(builds: Path, shown: str) -> None:
    """The builds folder is a folder, or can be made in a folder this process may write to."""
    if builds.exists() and not builds.is_dir():
        raise IndexPathRefused(f"{builds} is a file; the index at {shown} keeps its builds there")
    existing = builds
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise IndexPathRefused(f"cannot create the index at {shown}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise IndexPathRefused(f"cannot write the index at {shown}: {existing} is not writable")


def check_outside(path: Path, sources: Sequence[Path]) -> None:
    """Neither the index path nor its builds folder is or lies inside a source folder (the
    sources would be replaced by the index, or the index read as sources next time)."""
    where = Path(os.path.realpath(path.parent)) / path.name
    folders = [Path(os.path.realpath(p)) for p in sources if p.is_dir()]
    for target, shown in ((where, path), (builds_folder(where), builds_folder(path))):
        for folder in folders:
            if target == folder or folder in target.parents:
                relation = "is" if target == folder else "is inside"
                raise IndexPathRefused(
                    f"{shown} {relation} the source folder {folder}; put the index outside it"
                )
