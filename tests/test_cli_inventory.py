"""``convspec inventory``, ``verify --spec``, ``pytest -k ID`` and ``convspec --version`` (issue 18)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from convspec.cli import main
from convspec.spec import inventory

ROOT = Path(__file__).resolve().parents[1]


def test_listing_shows_every_section_and_id(capsys: pytest.CaptureFixture) -> None:
    assert main(["inventory"]) == 0
    out = capsys.readouterr().out
    for letter, title in inventory.SECTIONS.items():
        assert f"{letter}  {title}" in out
    for ident in inventory.INVENTORY_IDS:
        assert f"  {ident} " in out or f"  {ident}*" in out
    assert "  B7  * dilated kernel size" in out  # errata are starred


def test_one_id_names_its_spec_reference_and_properties(capsys: pytest.CaptureFixture) -> None:
    assert main(["inventory", "b7"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("B7  Size arithmetic  (erratum")
    assert "convspec.spec.sizes.effective_kernel_size" in out
    assert "convspec.reference.variants.dilate_kernel" in out
    assert "test_b_sizes.py::test_dilated_kernel_erratum" in out
    assert "convspec verify --spec B7" in out


def test_a_section_letter_shows_all_its_ids(capsys: pytest.CaptureFixture) -> None:
    assert main(["inventory", "H"]) == 0
    out = capsys.readouterr().out
    assert [line[:2] for line in out.splitlines() if line[:1] == "H"] == list(inventory.INVENTORY["H"])


@pytest.mark.parametrize("ident, message", [("B15", "section B has B1 to B14"),
                                             ("Z1", "sections are A, B, C")])
def test_unknown_ids_are_usage_errors(ident: str, message: str,
                                      capsys: pytest.CaptureFixture) -> None:
    assert main(["inventory", ident]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_verify_spec_selects_the_properties_naming_the_ids(tmp_path: Path) -> None:
    from convspec.verify.markers import collect

    marked, _ = collect()
    done = subprocess.run(
        [sys.executable, "-m", "convspec", "verify", "--backend", "reference", "--spec", "g3,B7",
         "--jobs", "1", "--repro-dir", str(tmp_path / "repro")],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = len(marked["G3"] | marked["B7"])
    assert f"{expected} properties," in done.stdout


def test_verify_spec_rejects_an_unknown_id(capsys: pytest.CaptureFixture) -> None:
    assert main(["verify", "--spec", "B99"]) == 2
    assert "--spec B99: unknown B99" in capsys.readouterr().err


def test_pytest_k_selects_a_property_by_its_id() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "properties", "-k", "G3"], capture_output=True, text=True, cwd=ROOT)
    selected = [line for line in done.stdout.splitlines() if "::" in line]
    assert selected and all("pool" in line for line in selected), done.stdout


def test_version(capsys: pytest.CaptureFixture) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"convspec {version('convspec')}"
