"""MkDocs hooks of the convspec site (``hooks:`` in mkdocs.yml).

``on_files`` adds the pages generated from the package (:mod:`sitegen`); ``on_page_markdown``
runs every ``python exec`` block of a hand-written page and shows it as a ``>>>`` session, so
every code example on the site is run by every build.
"""

from __future__ import annotations

import re

import sitegen
from sitegen.run import EXEC_BLOCK, run_example


# Before any plugin's on_config: mkdocstrings keeps only search paths that exist.
sitegen.api_source_tree()


def on_files(files, config):
    return sitegen.add_generated(files, config)


def on_page_markdown(markdown, page, config, files):
    def run(match: re.Match[str]) -> str:
        session = run_example(match.group(1), f"{page.file.src_uri}")
        return f"```pycon\n{session}\n```"

    return EXEC_BLOCK.sub(run, markdown)
