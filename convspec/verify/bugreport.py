"""Upstream-ready bug reports: a failure of ``convspec verify`` or a declared known defect,
as a Markdown issue body for the library's own tracker.

A report holds what a library's maintainers ask for: a title, a minimal reproduction in the
library's own API (the ``.upstream.py`` script ``verify`` wrote, or the defect's one-line
reproduction as a Python block), the expected values and how they were computed, the actual
values (the reproduction run on this machine), the library, CPU (model and the ISA flags the
oneDNN and XLA kernels dispatch on), Python, numpy and OS versions, and the environment switch
that avoids the defect where one is known. :func:`defects_table` renders the catalog
(:mod:`convspec.verify.defect_catalog`) as the README's Markdown table.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .defect_catalog import TRACKERS, CatalogEntry, library_of

#: The CPU flags (``/proc/cpuinfo``) that decide which oneDNN and XLA kernels run.
ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_fp16")
#: Environment variables that change the kernels a library picks; reported when set.
SWITCHES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS",
            "ONEDNN_DEFAULT_FPMATH_MODE", "OMP_NUM_THREADS", "XLA_FLAGS", "CUDA_VISIBLE_DEVICES")
#: The distributions whose versions a report on each library names.
DISTRIBUTIONS = {"torch": ("torch",), "tensorflow": ("tensorflow", "tensorflow-cpu"),
                 "openvino": ("openvino",), "jax": ("jax", "jaxlib"),
                 "onnxruntime": ("onnxruntime", "onnx"), "scipy": ("scipy",),
                 "cupy": ("cupy", "cupy-cuda12x", "cupy-cuda11x"), "tinygrad": ("tinygrad",),
                 "paddle": ("paddlepaddle",)}
#: A report's own limit on the output of a reproduction it quotes.
OUTPUT_LINES = 60


class BugReportError(Exception):
    """The input cannot become a report; the message says what is wrong and how to fix it."""


# -- one-line reproductions ---------------------------------------------------------------------
@dataclass(frozen=True)
class Repro:
    """One ``[VAR=value ...] python -c "CODE" (note)`` reproduction, parsed."""

    code: str
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""
    label: str = ""

    @property
    def script(self) -> str:
        """``code`` one statement a line (what a reader pastes into a fresh Python)."""
        try:
            tree = ast.parse(self.code)
        except SyntaxError:
            return self.code
        return "\n".join(ast.unparse(statement) for statement in tree.body) + "\n"

    @property
    def shell(self) -> str:
        """The reproduction as the shell line it came from."""
        escaped = re.sub(r'(["\\$`])', r"\\\1", self.code)
        prefix = "".join(f"{k}={v} " for k, v in self.env.items())
        return f'{prefix}python -c "{escaped}"'


_START = re.compile(r'(?:(?P<label>[\w.+-]+): )?(?P<env>(?:[A-Z][A-Z0-9_]*=\S+ )*)'
                    r'python3? -c "')


def _closing(text: str, start: int, open_: str, close: str) -> int:
    """The index just past the ``close`` that balances the ``open_`` at ``start``."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == open_:
            depth += 1
        elif text[index] == close:
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)


def parse_repros(text: str) -> list[Repro]:
    """Every ``python -c "..."`` reproduction in ``text`` (a defect's ``repro`` or a reason
    holding ``repro: ...``), with its environment prefix, label and trailing ``(note)``."""
    found = []
    position = 0
    while (match := _START.search(text, position)) is not None:
        index, code = match.end(), []
        while index < len(text) and text[index] != '"':
            if text[index] == "\\" and index + 1 < len(text) and text[index + 1] in '"\\$`':
                index += 1
            code.append(text[index])
            index += 1
        rest = index + 1
        note = ""
        if text.startswith(" (", rest):
            end = _closing(text, rest + 1, "(", ")")
            note, rest = text[rest + 2:end - 1], end
        env = dict(item.split("=", 1) for item in match.group("env").split())
        found.append(Repro("".join(code), env, note, match.group("label") or ""))
        position = rest
    return found


def reason_without_repro(reason: str) -> str:
    """A declaration's reason up to its ``repro:`` part (which the report shows as code)."""
    return re.split(r";?\s*repro:\s", reason, maxsplit=1)[0].rstrip(" ;")


# -- running a reproduction ---------------------------------------------------------------------
@dataclass(frozen=True)
class RunResult:
    """What a reproduction printed here, and how it ended."""

    stdout: str
    stderr: str
    returncode: int | None  # None: killed by the timeout
    seconds: float

    @property
    def output(self) -> str:
        """What a report quotes: stdout, and stderr too where the run failed or printed
        nothing else (a clean run's stderr is library logging)."""
        if self.returncode == 0 and self.stdout.strip():
            return self.stdout
        return self.stdout + self.stderr

    @property
    def ending(self) -> str:
        if self.returncode is None:
            return f"no answer within {self.seconds:.0f} s (stopped)"
        if self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            return f"killed by {name}"
        return f"exit status {self.returncode}"


def switch(workaround: str) -> dict[str, str] | None:
    """The environment of a workaround that is one ``VAR=value`` switch, else ``None``."""
    match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(\S+)", workaround.strip())
    return {match.group(1): match.group(2)} if match else None


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 120,
               argv: tuple[str, ...] = ()) -> RunResult:
    """Run ``code`` in a fresh ``python -I`` (no convspec on its path from this checkout, the
    working directory an empty temporary one), with ``env`` added to the environment."""
    import time

    environment = {**os.environ, **(env or {})}
    environment.pop("PYTHONPATH", None)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="convspec-report-") as cwd:
        try:
            done = subprocess.run([sys.executable, "-I", "-c", code, *argv], cwd=cwd,
                                  env=environment, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out, err = (v.decode(errors="replace") if isinstance(v, bytes) else v or ""
                        for v in (exc.stdout, exc.stderr))
            return RunResult(out, err, None, time.monotonic() - start)
    return RunResult(done.stdout, done.stderr, done.returncode, time.monotonic() - start)


def _clip(text: str, lines: int = OUTPUT_LINES) -> str:
    rows = text.rstrip("\n").splitlines()
    if len(rows) <= lines:
        return "\n".join(rows)
    keep = lines // 2
    return "\n".join(rows[:keep] + [f"... ({len(rows) - 2 * keep} lines left out) ..."]
                     + rows[-keep:])


# -- the machine ---------------------------------------------------------------------------------
def _cpuinfo() -> tuple[str, set[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), set()
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.M)
    return (model.group(1).strip() if model else platform.machine(),
            set(flags.group(1).split()) if flags else set())


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def library_versions(library: str) -> list[str]:
    """``name version`` of each installed distribution of ``library``."""
    found = []
    for name in DISTRIBUTIONS.get(library, (library,)):
        version = _version(name)
        if version:
            found.append(f"{name} {version}")
    return found


def machine() -> dict[str, Any]:
    """What a result depends on besides the library: CPU model, logical cores, the
    kernel-selecting ISA flags present, Python, numpy, OS, the environment switches set, and
    convspec's version (``verify`` records it in its JSON as ``machine``)."""
    model, flags = _cpuinfo()
    return {
        "cpu": model, "logical_cores": os.cpu_count(),
        "isa": {flag: flag in flags for flag in ISA_FLAGS},
        "python": platform.python_version(), "numpy": _version("numpy"),
        "os": platform.platform(),
        "switches": {k: os.environ[k] for k in SWITCHES if k in os.environ},
        "convspec": _version("convspec"),
    }


def environment(library: str, device: str = "cpu") -> list[str]:
    """The report's environment lines: library, device, CPU and its ISA flags, Python,
    numpy, OS, and the kernel-selecting environment variables that are set."""
    here = machine()
    isa = ", ".join(f"{flag} {'yes' if present else 'no'}" for flag, present in here["isa"].items())
    switches = [f"{k}={v}" for k, v in here["switches"].items()]
    versions = library_versions(library)
    if library in DISTRIBUTIONS:
        head = f"{library}: {', '.join(versions) or 'not installed here'}"
    else:
        head = (f"backend `{library}`: not a built-in adapter, so no library version is known "
                "here; add the version of the library it calls")
    return [
        head,
        f"device: {device}",
        f"CPU: {here['cpu']} ({here['logical_cores']} logical cores; {isa})",
        f"Python {here['python']}, numpy {here['numpy'] or '?'}",
        f"OS: {here['os']}",
        "environment switches: " + (", ".join(switches) or "none set"),
        f"convspec {here['convspec'] or '(not installed)'}",
    ]


# -- Markdown --------------------------------------------------------------------------------------
def fence(text: str, language: str = "") -> str:
    """``text`` in a code fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def _section(title: str, *paragraphs: str) -> str:
    return f"### {title}\n\n" + "\n\n".join(p for p in paragraphs if p) + "\n"


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def _tracker(library: str) -> str:
    url = TRACKERS.get(library)
    return (f"<!-- file at {url} -->\n" if url else
            f"<!-- {library} is not a built-in backend: file it where its author takes "
            "reports -->\n")


def _run_block(result: RunResult | None, what: str) -> str:
    if result is None:
        return ("Not run by this report (`--no-run`); run the reproduction above to see the "
                "actual values.")
    return (f"{what} on the machine below ({result.ending}, {result.seconds:.1f} s):\n\n"
            + fence(_clip(result.output) or "(no output)"))


def defect_report(entry: CatalogEntry, *, backend: str, reason: str | None,
                  declared_why: str = "", device: str = "cpu",
                  results: list[RunResult | None] | None = None,
                  workaround: str = "", avoided: RunResult | None = None) -> str:
    """The issue body of a catalogued defect. ``reason`` is its declaration's text on this
    machine (``None`` where it is not declared here, and ``declared_why`` says why);
    ``results`` the runs of its reproductions (one per :func:`parse_repros` item), and
    ``avoided`` the first one's run under the workaround's environment switch."""
    library = entry.library
    versions = ", ".join(library_versions(library)) or library
    repros = parse_repros(entry.repro)
    workaround = workaround or entry.workaround
    what = _section("What happens", f"In short: {entry.summary}.",
                    "" if reason and reason_without_repro(reason) == entry.summary else
                    f"In full, as convspec declares it: {reason_without_repro(reason)}."
                    if reason else f"(Not declared on this machine: {declared_why}.)")
    parts = [f"# {versions}: {entry.summary}\n", _tracker(library), what]
    if not repros:
        parts.append(_section(
            "Reproduction", "No one-line reproduction is recorded for this defect yet; the "
            "description above gives the smallest case convspec found."))
    for index, repro in enumerate(repros):
        heading = "Reproduction" + (f" ({repro.label})" if repro.label else "")
        needs = (f"Run with `{' '.join(f'{k}={v}' for k, v in repro.env.items())}` in the "
                 "environment. " if repro.env else "")
        result = results[index] if results and index < len(results) else None
        parts.append(_section(
            heading,
            f"Only {library} (and numpy) needed; paste into a fresh Python. {needs}".strip(),
            fence(repro.script, "python"),
            "or from a shell:\n\n" + fence(repro.shell, "sh"),
            f"**Expected, and what goes wrong** (as convspec's declaration states it): "
            f"{repro.note}." if repro.note else "",
            f"**Expected**, computed by convspec's float64 reference (`convspec.reference`) "
            f"for these inputs: `{entry.expected()}`." if entry.expected and index == 0 else "",
            ("Slow, not wrong: the results are right, and the time is measured by the "
             "reproduction itself.") if "slow, not wrong" in entry.summary else
            "How the expected values were computed: convspec found the defect as a "
            "disagreement with its reference implementation (`convspec.reference`: numpy, "
            "float64, the specification's index formulas); this reproduction is the smallest "
            "case found, on inputs (ones, small integers, a shape) whose right result is "
            "known exactly.",
            "**Actual**: " + _run_block(result, "its output")))
    parts.append(_section("Environment", _bullets(environment(library, device))))
    parts.append(_section("Workaround", f"`{workaround}` avoids it." if workaround
                          else "None known.",
                          _run_block(avoided, f"The first reproduction with `{workaround}`")
                          if avoided is not None else ""))
    if entry.library in TRACKERS:
        found = (f"convspec (property-based verification of convolution against an executable "
                 f"specification) found it with {entry.found_by}; its `{backend}` adapter "
                 f"declares it as known defect `{entry.name}` since {entry.since} (status: "
                 f"{entry.status}).")
    else:
        found = (f"The backend `{backend}` declares it to convspec as known defect "
                 f"`{entry.name}`, so `convspec verify` leaves its calls out.")
    parts.append(_section("How it was found", found))
    return "\n".join(parts)


def failed_entries(document: Any, source: str) -> list[dict[str, Any]]:
    """The failed tests of ``convspec verify --json`` results, or a :class:`BugReportError`."""
    if not isinstance(document, dict) or not isinstance(document.get("tests"), list):
        raise BugReportError(f"{source}: not `convspec verify --json` results (no 'tests' "
                             "list); pass the file that `convspec verify --json FILE` wrote")
    failed = [t for t in document["tests"]
              if isinstance(t, dict) and t.get("outcome") == "failed"]
    if not failed:
        ran = len(document["tests"])
        raise BugReportError(f"{source}: no failures to report ({ran} results, none failed, "
                             f"status {document.get('status', '?')!r}); report a declared "
                             "defect with --backend NAME --defect NAME instead")
    return failed


def find_script(path: str, json_path: Path) -> Path | None:
    """A repro path as ``verify`` recorded it (relative to the directory it ran in): here, or
    next to the JSON file."""
    for candidate in (Path(path), json_path.parent / path):
        if candidate.is_file():
            return candidate
    return None


def pick_failure(failed: list[dict[str, Any]]) -> dict[str, Any]:
    """The failure best to report first: one with a library-only script, else one with a
    single failing call, else the first."""
    for wanted in (lambda t: t.get("upstream"),
                   lambda t: t.get("worst_values") and t.get("counterexample"),
                   lambda t: t.get("worst_values")):
        found = next((t for t in failed if wanted(t)), None)
        if found is not None:
            return found
    return failed[0]


def failure_title(document: dict[str, Any], entry: dict[str, Any], versions: str) -> str:
    call = entry.get("call", "")
    called = re.match(r"(\w+)\(", call)
    operation = (entry.get("operation") or (called.group(1) if called else "")
                 or ", ".join(entry.get("operations", [])) or "a call")
    dtype = call.rsplit(" in ", 1)[-1] if " in " in call else ""
    reason = entry.get("reason", "fails")
    if reason.startswith("hung:"):
        short = "hangs" + (f" (no answer within {m.group(1)} s)"
                           if (m := re.search(r"within ([\d.]+) s", reason)) else "")
    elif re.match(r"(crashed|segfault|aborted|killed)", reason):
        short = reason.split(":")[0]
    else:
        short = re.sub(r"\s+on (covering case|case|external case).*$", "",
                       reason.split(";")[0].split(" | ")[0])
    head = f"{operation}" + (f" in {dtype}" if dtype else "")
    return f"{versions}: {head}: {short}"


def failure_report(document: dict[str, Any], entry: dict[str, Any], json_path: Path, *,
                   result: RunResult | None = None, script: str | None = None,
                   script_kind: str = "upstream") -> str:
    """The issue body of one failed test of ``verify --json`` results. ``script`` is the text
    of its reproduction (``script_kind``: ``"upstream"``, library only, or ``"convspec"``)."""
    spec = str(document.get("backend", "?"))
    library = library_of(spec)
    versions = ", ".join(library_versions(library)) or spec
    device = "cuda" if "cuda" in spec else ("cpu" if library in DISTRIBUTIONS else "-")
    parts = [f"# {failure_title(document, entry, versions)}\n", _tracker(library)]
    what = [f"{entry.get('reason', '')}."]
    if entry.get("call"):
        what.append(f"The failing call, in convspec's terms: `{entry['call']}`.")
    parts.append(_section("What happens", *what))
    if script is None:
        why = entry.get("upstream_missing") or "the script is not where verify wrote it"
        parts.append(_section("Reproduction", f"No reproduction script to quote ({why})."))
    elif script_kind == "upstream":
        name = Path(entry.get("upstream", "repro.upstream.py")).name
        parts.append(_section(
            "Reproduction",
            f"Only {library} and numpy needed (no convspec): save as `{name}` and run "
            f"`python {name}`. It builds the inputs, calls {library}, prints the library and "
            "device versions, the inputs and got/expected, and exits 1 while the library "
            "disagrees.", fence(script, "python")))
    else:
        name = Path(entry.get("repro", "repro.py")).name
        parts.append(_section(
            "Reproduction",
            f"convspec's replay of the failing call (`python {name}`; needs convspec and the "
            f"backend `{spec}` importable). No library-only script: "
            + (entry.get("upstream_missing") or (
                "verify writes one for a single call with a result to compare, not for a hang, "
                "a crash or a law between calls" if library in DISTRIBUTIONS else
                "this is a backend of one's own, so its convspec replay is the one to share"))
            + ".",
            fence(script, "python")))
    worst = entry.get("worst_values")
    lines = []
    if worst:
        lines.append(f"At the worst element, index {tuple(worst.get('index', ()))}: "
                     f"**actual** {worst.get('actual')!r}, **expected** "
                     f"{worst.get('expected')!r} (error {worst.get('error'):.3g}, allowed "
                     f"{worst.get('allowed'):.3g}).")
    elif entry.get("worst"):
        lines.append(f"Worst element: {entry['worst']}.")
    if worst or entry.get("worst"):
        lines.append("How the expected values were computed: convspec's reference "
                     "implementation (`convspec.reference`, numpy) in float64 from the same "
                     "inputs (every input is exact in the call's dtype); the allowed error per "
                     "element is convspec's error model for that dtype (accumulation, "
                     "mixed-magnitude and output-rounding terms), stated in the script.")
    else:
        lines.append("Expected: the call returns, with the values of convspec's float64 "
                     "reference (`convspec.reference`), which computes this case. Actual: "
                     f"{reason_without_repro(entry.get('reason', 'it fails'))}.")
    lines.append(_run_block(result, "The reproduction's output"))
    parts.append(_section("Expected and actual", *lines))
    parts.append(_section("Environment", _bullets(environment(library, device))))
    parts.append(_section("Workaround", "None known."))
    found = [f"convspec property `{entry.get('name')}`"
             + (f" (inventory IDs {', '.join(entry['ids'])})" if entry.get("ids") else "")
             + f", `convspec verify --backend {spec} --profile {document.get('profile', '?')}`"]
    counterexample = "\n".join(entry.get("counterexample") or [])
    if counterexample:
        found[0] += "; the minimal counterexample Hypothesis found:"
        found.append(fence(counterexample))
    else:
        found[0] += (" on a designed case (not drawn by Hypothesis)." if entry.get("cases")
                     else "; no Hypothesis counterexample was recorded.")
    parts.append(_section("How it was found", *found))
    return "\n".join(parts)


# -- the README's table -----------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code_cell(text: str) -> str:
    if not text:
        return "none yet"
    # Markdown still parses inside inline HTML: brackets, asterisks, underscores and
    # backticks become entities, or "f(x)[1](y)" turns into a link.
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char in "[]*_`":
        escaped = escaped.replace(char, f"&#{ord(char)};")
    return "<code>" + _cell(escaped) + "</code>"


def defects_table(catalog: tuple[CatalogEntry, ...]) -> str:
    """Every catalogued defect as a Markdown table (``convspec report-bug --table``)."""
    rows = ["| library | defect | what | repro | found by | declared since | status |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for e in catalog:
        backends = ", ".join(f"`{b}`" for b in e.backends)
        status = e.status + (f"; avoided by `{e.workaround}`" if e.workaround else "")
        rows.append(f"| {e.library} ({backends}) | `{e.name}` | {_cell(e.summary)} | "
                    f"{_code_cell(e.repro)} | {_cell(e.found_by)} | {_cell(e.since)} | "
                    f"{_cell(status)} |")
    return "\n".join(rows) + "\n"
