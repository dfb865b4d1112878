"""Executed examples: run a snippet as the Python prompt would and show what it printed.

Each top-level statement of the snippet runs in one namespace; an expression statement's value
is shown with ``repr`` (numpy arrays print as numpy prints them), ``print`` output as printed.
An exception stops the build with the snippet and the error, so every example on the site is
run by every build (and so in CI).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import textwrap

import numpy as np

#: A hand-written page's executed example: ```` ```python exec ```` ... ```` ``` ````.
EXEC_BLOCK = re.compile(r"^```python exec\n(.*?)^```$", re.S | re.M)


class ExampleError(RuntimeError):
    """An example on the site raised; the message names where and what."""


def _prompt(source: str) -> str:
    """``>>>`` and ``...`` before the lines; a comment's alignment shrunk to two spaces, so the
    session fits the page's width."""
    lines = [re.sub(r"(?<=\S)\s{3,}#", "  #", line) for line in source.splitlines()]
    return "\n".join([f">>> {lines[0]}", *(f"... {line}" for line in lines[1:])])


def run_example(code: str, where: str) -> str:
    """The session text (``>>>`` prompts and outputs) of running ``code``."""
    code = textwrap.dedent(code).strip()
    tree = ast.parse(code, filename=where)
    lines = code.splitlines()
    starts = [node.lineno for node in tree.body]
    if len(set(starts)) != len(starts):
        raise ExampleError(f"{where}: one statement per line (no ';'), so each shows its output")
    namespace: dict[str, object] = {"__name__": "__example__"}
    shown = []
    with np.printoptions(precision=4, suppress=True, linewidth=88):
        for node in tree.body:  # whole lines, so a trailing comment stays with its statement
            source = "\n".join(lines[node.lineno - 1:node.end_lineno])
            shown.append(_prompt(source))
            buffer = io.StringIO()
            try:
                with contextlib.redirect_stdout(buffer):
                    if isinstance(node, ast.Expr):
                        value = eval(compile(ast.Expression(node.value), where, "eval"),
                                     namespace)
                        if value is not None:
                            print(repr(value))
                    else:
                        exec(compile(ast.Module([node], []), where, "exec"), namespace)
            except Exception as exc:
                raise ExampleError(f"{where}: the example raised {type(exc).__name__}: {exc}\n"
                                   f"{_prompt(source)}") from exc
            if buffer.getvalue():
                shown.append(buffer.getvalue().rstrip("\n"))
    return "\n".join(shown)
