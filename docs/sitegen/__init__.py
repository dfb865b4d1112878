"""Sources of the documentation site that are generated from the package at build time.

:func:`add_generated` (called by ``docs/hooks.py``, MkDocs' ``on_files``) adds the section,
errata, API and benchmark pages, the pictures (drawn by ``convspec draw``) and MathJax (from the
``django-static-mathjax`` wheel, so the site needs no CDN) to the site's files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from mkdocs.structure.files import File, Files

from .pages import ROOT, generated
from .pictures import PICTURES

CACHE = ROOT / "build" / "docs-pictures"
API_TREE = ROOT / "build" / "docs-api"
#: Where pyproject.toml's package-dir puts a package that is not under convspec/.
MAPPED = {"reference": ROOT / "reference", "properties": ROOT / "properties"}
MATHJAX_FILES = ("es5/tex-svg-full.js", "LICENSE")


def mathjax_directory() -> Path:
    import mathjax  # django-static-mathjax: MathJax 3 as package data

    return Path(mathjax.__file__).parent / "static" / "mathjax"


def _drawing_sources_digest() -> str:
    """A digest of the code a picture depends on: the cache key's second half."""
    digest = hashlib.sha256()
    for path in sorted([*(ROOT / "convspec" / "draw").glob("*.py"),
                        ROOT / "convspec" / "spec" / "geometry.py",
                        ROOT / "convspec" / "spec" / "sizes.py"]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def pictures() -> dict[str, bytes]:
    """Every picture of the site by file name (``B6-1.gif``), drawn or from the cache."""
    code = _drawing_sources_digest()
    CACHE.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for ident, items in PICTURES.items():
        for k, picture in enumerate(items):
            key = hashlib.sha256(f"{code} {picture.args}".encode()).hexdigest()[:20]
            cached = CACHE / f"{key}.{picture.suffix}"
            if not cached.is_file():  # written whole, then renamed: builds may run at once
                partial = cached.with_suffix(f".{os.getpid()}.part")
                partial.write_bytes(picture.draw())
                partial.replace(cached)
            drawn[f"{ident}-{k + 1}.{picture.suffix}"] = cached.read_bytes()
    return drawn


def api_source_tree() -> Path:
    """``build/docs-api/convspec``: the package as installed (``convspec.reference`` from
    ``reference/``), as links, so mkdocstrings reads the sources statically (mkdocs.yml's
    ``paths``) without importing anything."""
    tree = API_TREE / "convspec"
    tree.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in (ROOT / "convspec").iterdir() if p.name != "__pycache__"}
    wanted.update(MAPPED)
    for link in tree.iterdir():
        if link.name not in wanted or not link.is_symlink():
            link.unlink(missing_ok=True)
    for name, target in wanted.items():
        link = tree / name
        if not link.is_symlink():
            with contextlib.suppress(FileExistsError):  # another build made it meanwhile
                link.symlink_to(target)
    return API_TREE


def add_generated(files: Files, config) -> Files:
    for path, markdown in generated().items():
        files.append(File.generated(config, path, content=markdown))
    for name, data in pictures().items():
        files.append(File.generated(config, f"pictures/{name}", content=data))
    source = mathjax_directory()
    for name in MATHJAX_FILES:
        files.append(File.generated(config, f"assets/mathjax/{Path(name).name}",
                                    abs_src_path=str(source / name)))
    return files
