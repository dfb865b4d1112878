"""The shell examples of the site's pages, as commands a test can run.

Two kinds of fenced block hold them:

- ``sh``: command lines only. A line ending in ``\\`` continues on the next; ``  # ...`` (two
  spaces, then ``#``) starts a comment. A command exits 0 unless its comment says it
  ``exits 2`` (or ``exit 2``).
- ``console``: ``$ command`` lines, each followed by the output the page shows for it (stdout
  and stderr together, as a terminal shows them); the test compares it line by line.

Some commands cannot run in a test (they install from the network, serve until stopped, need a
GPU or run for many minutes): :data:`NOT_RUN` names each, exactly as the page writes it, with the
reason; every other command on the site is run by ``tests/test_docs_site.py``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

BLOCK = re.compile(r"^```(sh|console)\n(.*?)^```$", re.S | re.M)
EXITS_2 = re.compile(r"\bexits? 2\b")
#: Options whose value is a file the command writes: it must exist, not empty, afterwards.
WRITES = ("-o", "--output", "--json", "--markdown", "--html", "--junit-xml")

#: Commands on the site that the test does not run, each with the reason.
NOT_RUN: dict[str, str] = {
    # index.md: building the site
    'pip install -e ".[docs]"': "installs from the network",
    "docs/build.sh": "the whole site build, run by "
                     "test_site_builds_offline_and_shows_formulas_and_pictures",
    "docs/build.sh serve": "serves the site until stopped",
    # verify.md
    "convspec verify --backend torch --section F,G --dtype float32 --jobs 2":
        "two whole sections against PyTorch: several minutes on 2 cores; the page's "
        "--spec B7 runs go through the same command",
    "convspec verify --backend mypkg.mymodule:backend":
        "mypkg.mymodule stands for the reader's own module",
    # benchmarks.md (bench/README.md)
    "bench/nightly.sh": "a whole night of asv benchmarks, published (tests/test_bench_asv.py "
                        "runs the script end to end on a quick selection)",
    "CONVSPEC_NIGHT=2026-11-20 bench/nightly.sh": "a whole night of asv benchmarks, recorded "
                                                  "under a given date",
    'CONVSPEC_MACHINE=vm-2core CONVSPEC_RESULTS_DIR=/tmp/dash CONVSPEC_SUITES="Tiny Resnet50" '
    'CONVSPEC_BACKENDS="reference torch onnxruntime jax" CONVSPEC_DTYPES=float32 '
    "CONVSPEC_DIRECTIONS=forward CONVSPEC_QUICK=1 CONVSPEC_NO_CALIBRATION=1 "
    "OMP_WAIT_POLICY=PASSIVE CONVSPEC_NIGHT=2026-11-29 bench/nightly.sh":
        "the night of the screenshots: 31 minutes of Tiny and Resnet50 on four backends",
    'CONVSPEC_WORKLOADS="conv3x3 depthwise3x3 transposed3x3_s2 maxpool2x2 conv1 layer1.0.conv1 '
    'layer1.0.conv2 layer2.0.conv2 layer3.1.conv2 layer4.1.conv2" ...':
        "the same command narrowed to ten workloads, its other variables elided ('...')",
    "python -m convspec.perf.gate --config .asv/release-torch/asv.conf.json --release-of torch "
    "--release torch-2.13.0":
        "gates a release already recorded by CONVSPEC_TRACK=release bench/nightly.sh "
        "(tests/test_bench_release.py runs the gate on recorded releases)",
    "convspec dashboard": "serves the dashboard until stopped",
    "convspec dashboard --html-dir /shared/convspec/html --port 0": "serves the dashboard until "
                                                                    "stopped",
    "K=.asv/kernel/asv.conf.json": "only names the kernel track's configuration for the "
                                   "commands after it",
    "python bench/nights.py kernel-config --root . --repo ~/src/mykernel "
    "--backends mykernel.conv:Backend --shared .asv/kernel":
        "~/src/mykernel and mykernel.conv stand for the reader's own kernel repository and "
        "backend",
    "python bench/nights.py machine --config $K --machine mybox":
        "needs the kernel track's configuration, which kernel-config writes from the reader's "
        "repository",
    "asv run --config $K --machine mybox --bench Tiny ALL": "benchmarks every commit of the "
                                                           "reader's kernel repository",
    "asv run --config $K --machine mybox --bench Resnet50 NEW": "benchmarks the reader's kernel "
                                                               "repository's new commits",
    "asv continuous --config $K --machine mybox --bench Tiny main~1 main":
        "benchmarks two commits of the reader's kernel repository",
    'asv find --config $K --machine mybox v1.2..main "Tiny.time_call"':
        "bisects the reader's kernel repository",
    "asv publish --config $K && python bench/dashboard.py --config $K":
        "needs the kernel track's results",
    "convspec dashboard --html-dir .asv/kernel/html": "serves the dashboard until stopped",
    "CONVSPEC_TRACK=release bench/nightly.sh": "a whole night of asv benchmarks on the release "
                                               "track (tests/test_bench_release.py runs the "
                                               "track end to end on a quick selection)",
    "PYTHON=~/venvs/torch-2.11/bin/python CONVSPEC_TRACK=release bench/nightly.sh":
        "~/venvs/torch-2.11 stands for the reader's virtual environment of an older torch",
    "CONVSPEC_TRACK=release CONVSPEC_RELEASE_OF=onnxruntime bench/nightly.sh":
        "a whole night of asv benchmarks on the release track",
    "convspec dashboard --html-dir .asv/release-torch/html": "serves the dashboard until stopped",
    'CONVSPEC_SUITES=Tiny CONVSPEC_BACKENDS="reference torch" CONVSPEC_DTYPES=float32 '
    "CONVSPEC_DIRECTIONS=forward CONVSPEC_QUICK=1 bench/nightly.sh":
        "runs asv in the repository and publishes into its .asv/; tests/test_bench_asv.py runs "
        "this quick night (with the reference backend) into a temporary results folder",
    "pytest bench/ --benchmark-only": "the benchmark suite, in the repository: about 30 s of "
                                      "timing on 2 cores",
    "pytest bench/ --benchmark-only --bench-workloads=resnet50 --bench-dtypes=float32,float64":
        "every ResNet-50 layer timed in two dtypes: many minutes",
    "CONVSPEC_BENCH_WORKLOADS=resnet50,transposed CONVSPEC_BENCH_DIRECTIONS=forward,backward "
    "pytest bench/ --benchmark-only": "every ResNet-50 and transposed layer timed forward and "
                                      "backward: many minutes",
    "pytest-benchmark compare .benchmarks/*/0001_*.json .benchmarks/*/0002_*.json":
        "compares two runs saved by earlier benchmark runs",
    "convspec bench --backend jax --workloads resnet50/conv1,resnet50/layer1.0.conv2 "
    "--json out.json": "two ResNet-50 layers at the harness's full timing budget: 115 s "
                       "measured on 2 shared cores; the page's tiny torch run takes the same "
                       "path",
    "convspec bench --backend torch-cuda --workloads resnet50 --dtype float16 --batch 32":
        "needs a CUDA device",
    "SET=resnet50/conv1,resnet50/layer1.0.conv1,resnet50/layer1.0.conv2,resnet50/layer2.0.conv2,"
    "resnet50/layer3.1.conv2,resnet50/layer4.1.conv2": "only names the layers for the two "
                                                       "commands after it",
    "OMP_WAIT_POLICY=PASSIVE convspec bench --backend torch --workloads $SET":
        "six ResNet-50 layers at the full timing budget: minutes",
    "OMP_WAIT_POLICY=PASSIVE pytest bench/ --benchmark-only --bench-workloads=$SET "
    "--bench-backends=torch,torch-channels-last,jax,onnxruntime,reference":
        "six ResNet-50 layers on five backends: many minutes",
}


@dataclass(frozen=True)
class Command:
    """One command of a page: what to run, the exit status and output the page promises."""

    page: str
    text: str
    comment: str = ""
    #: The lines the page shows as its output (``console`` blocks), or ``None``.
    output: tuple[str, ...] | None = None

    @property
    def exit_status(self) -> int:
        return 2 if EXITS_2.search(self.comment) else 0

    @property
    def program(self) -> str:
        """The program, after any ``NAME=value`` environment assignments."""
        words = shlex.split(self.text)
        return next((w for w in words if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w)), "")

    @property
    def written(self) -> tuple[str, ...]:
        """The files the command says it writes (``-o FILE``, ``--json FILE``, ...)."""
        words = shlex.split(self.text)
        return tuple(value for option, value in zip(words, words[1:]) if option in WRITES)

    def __str__(self) -> str:
        return f"{self.page}: {self.text}"


def _split_comment(line: str) -> tuple[str, str]:
    code, _, comment = line.partition("  #")
    if code.lstrip().startswith("#"):
        return "", code.lstrip()[1:].strip()
    return code.rstrip(), comment.strip()


def _sh(page: str, body: str) -> list[Command]:
    commands, pending, comments = [], "", []
    for line in body.splitlines():
        code, comment = _split_comment(line)
        if comment:
            comments.append(comment)
        if code.endswith("\\"):
            pending += code[:-1].strip() + " "
            continue
        text = " ".join((pending + code.strip()).split())
        if text:
            commands.append(Command(page, text, " ".join(comments)))
        pending, comments = "", []
    return commands


def _console(page: str, body: str) -> list[Command]:
    commands: list[tuple[str, str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            code, comment = _split_comment(line[2:])
            commands.append((" ".join(code.split()), comment, []))
        elif commands:
            commands[-1][2].append(line.rstrip())
        elif line.strip():
            raise ValueError(f"{page}: a console block starts with output, not a $ command: "
                             f"{line!r}")
    trimmed = [(text, comment, _without_trailing_blanks(output))
                      for text, comment, output in commands]
    return [Command(page, text, comment, output) for text, comment, output in trimmed]


def _without_trailing_blanks(lines: list[str]) -> tuple[str, ...]:
    while lines and not lines[-1]:
        lines = lines[:-1]
    return tuple(lines)


def commands(page: str, markdown: str) -> list[Command]:
    """Every shell command of a page, in the order the page shows them."""
    found = []
    for kind, body in BLOCK.findall(markdown):
        found += _sh(page, body) if kind == "sh" else _console(page, body)
    return found
