"""The inventory's formulas (plain text in backticks, ``Σ_u Σ_v w_uv x_{i+u-1}``) as TeX.

The inventory writes formulas as a reader types them: Unicode operators, ``_ij`` for a
two-letter subscript, ``rot180(W)``, ``~⊗`` for the wide correlation of E1. :func:`to_tex`
rewrites one formula; :func:`statement_markdown` puts each backticked formula of a statement
into ``$…$`` for pymdownx.arithmatex, which MathJax typesets in the browser.
"""

from __future__ import annotations

import re

#: Whole words and symbols, replaced first (longest first).
WORDS = {
    "output_padding": r"\text{output\_padding}",
    "rot180": r"\operatorname{rot180}",
    "~⊗": r"\mathbin{\tilde{\otimes}}",
    "X̃": r"\tilde{X}",
    "slope": r"\text{slope}",
    "mean_": r"\operatorname{mean}_",
    "max_": r"\max_",
    "max(": r"\max(",
    "min(": r"\min(",
    "up(": r"\operatorname{up}(",
    "kh": "k_h",
    "kw": "k_w",
    "..": r",\ldots,",
    "<": r"\langle ",
    ">": r"\rangle ",
}
SYMBOLS = {
    "Σ": r"\sum ", "∫": r"\int ", "⊗": r"\otimes ", "⊙": r"\odot ", "×": r"\times ",
    "·": r"\cdot ", "∂": r"\partial ", "δ": r"\delta ", "β": r"\beta ", "θ": r"\theta ",
    "α": r"\alpha ", "ρ": r"\rho ", "η": r"\eta ", "Δ": r"\Delta ", "∈": r"\in ",
    "≜": r"\triangleq ", "²": "^2", "³": "^3", "*": r"\ast ",
}


def _subscripts(text: str) -> str:
    """``_ij`` → ``_{ij}``; a subscript that is a word (``out``, ``row``, ``in``) is upright."""
    def brace(match: re.Match[str]) -> str:
        word = match.group(1)
        if word.isalpha() and (len(word) >= 3 or word == "in"):
            return f"_{{\\text{{{word}}}}}"
        return f"_{{{word}}}"

    return re.sub(r"_([A-Za-z0-9]+)", brace, text)


def to_tex(formula: str) -> str:
    """One inventory formula as TeX (inline math)."""
    text = re.sub(r"√(\w+(?:_\w+)?)", lambda m: r"\sqrt{%s}" % m.group(1), formula)
    text = re.sub(r"\b([A-Z])(\d)\b", r"\1_\2", text)  # W2, H2: the notes' indexed names
    placeholders: list[str] = []
    for word in sorted(WORDS, key=len, reverse=True):
        if word in text:
            placeholders.append(WORDS[word])
            text = text.replace(word, f"\x00{len(placeholders) - 1}\x00")
    text = _subscripts(text)
    for symbol, tex in SYMBOLS.items():
        text = text.replace(symbol, tex)
    text = re.sub(r"\x00(\d+)\x00", lambda m: placeholders[int(m.group(1))], text)
    return re.sub(r"\\(\w+) (?=[^A-Za-z])", r"\\\1", text).strip()


def statement_markdown(statement: str) -> str:
    """A statement with its backticked formulas as inline math and ``**Erratum**`` kept."""
    return re.sub(r"`([^`]+)`", lambda m: f"${to_tex(m.group(1))}$", statement)
