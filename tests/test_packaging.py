"""Packaging a user can trust (issue 20, part 3): licence, changelog, one version, package data.

Cheap checks of the files and the configuration. Building the wheel and the sdist, installing
the wheel into a clean virtual environment and running ``frt demo --customers 5000`` there is
``.ci/package.sh``, which ``.ci/run`` runs beside the README's test command: it needs the
network for the build's and the environment's dependencies and takes minutes, so it is not a
test of this suite.
"""

import hashlib
import re
import tomllib
from datetime import date
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import frt_experiments
from frt_experiments._version import __version__
from frt_experiments.cli import main
from frt_experiments.simulate.scenario import PRESETS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "frt_experiments"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# The Apache License 2.0 as https://www.apache.org/licenses/LICENSE-2.0.txt gives it (11,358
# bytes): the MD5 that Debian's /usr/share/common-licenses/Apache-2.0 has and OpenEmbedded's
# recipes pin for Apache-2.0 licence files (LIC_FILES_CHKSUM = "...;md5=3b83ef96...").
APACHE_2_0_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"
APPENDIX_PLACEHOLDER = "   Copyright [yyyy] [name of copyright owner]\n"
COPYRIGHT = "   Copyright 2025-2026 The frt-experiments authors\n"


def test_licence_is_the_apache_license_verbatim_but_the_appendix_copyright_line():
    lines = (ROOT / "LICENSE").read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines.count(COPYRIGHT) == 1
    assert APPENDIX_PLACEHOLDER not in lines
    canonical = "".join(APPENDIX_PLACEHOLDER if line == COPYRIGHT else line for line in lines)
    digest = hashlib.md5(canonical.encode("utf-8"), usedforsecurity=False).hexdigest()
    assert digest == APACHE_2_0_MD5
    # the filled-in line is the appendix's, after the terms
    assert lines.index(COPYRIGHT) > lines.index("   END OF TERMS AND CONDITIONS\n")


def test_pyproject_declares_the_licence_as_pep_639_asks():
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    # PEP 639: a licence expression excludes licence classifiers
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]
    # setuptools reads `license = "<SPDX expression>"` and license-files from 77.0 on
    (setuptools,) = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]
                     if Requirement(r).name == "setuptools"]
    assert not setuptools.specifier.contains("76.1.0")
    assert setuptools.specifier.contains("77.0.0")


def test_the_python_versions_classified_are_those_supported():
    project = PYPROJECT["project"]
    minimum = Version(project["requires-python"].removeprefix(">="))
    minors = [Version(c.rsplit(" :: ", 1)[1]) for c in project["classifiers"]
              if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert min(minors) == minimum
    assert sorted(minors) == [Version(f"3.{m}") for m in range(minimum.minor, 14)]


def test_the_version_has_one_source():
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "frt_experiments._version.__version__"}
    assert str(Version(__version__)) == __version__  # a normalised PEP 440 version
    assert frt_experiments.__version__ == __version__
    assigned = [str(path.relative_to(ROOT)) for path in sorted(PACKAGE.rglob("*.py"))
                if re.search(r"^__version__\s*=", path.read_text(encoding="utf-8"), re.M)]
    assert assigned == ["frt_experiments/_version.py"]


def test_frt_version_prints_the_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"frt {__version__}\n"


def test_the_installed_distribution_has_the_version():
    try:
        installed = metadata.version("frt-experiments")
    except metadata.PackageNotFoundError:
        pytest.skip("frt-experiments is not installed (the package is imported from the source)")
    assert installed == __version__, (
        f"the installed metadata says {installed}, the source {__version__}: the environment "
        "was installed before the version changed; reinstall it (pip install -e .)")


def _changelog_sections():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return re.findall(r"^## \[([^\]]+)\](?: - (\S+))?$", text, re.M)


def test_changelog_has_a_dated_section_for_the_version():
    sections = _changelog_sections()
    assert sections[0] == ("Unreleased", "")
    released = sections[1:]
    assert released[0][0] == __version__, "the newest released section is the current version"
    versions = [Version(v) for v, _ in released]
    dates = [date.fromisoformat(d) for _, d in released]  # every release is dated
    assert versions == sorted(versions, reverse=True)
    assert len(set(versions)) == len(versions)
    assert dates == sorted(dates, reverse=True)


def test_every_data_file_of_the_package_is_declared_and_every_pattern_matches():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["frt_experiments"]
    data = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*")
                  if p.is_file() and p.suffix not in {".py", ".pyc"}
                  and "__pycache__" not in p.parts)
    assert [f for f in data if not any(fnmatch(f, pat) for pat in patterns)] == []
    assert [pat for pat in patterns if not any(fnmatch(f, pat) for f in data)] == []


def test_every_scenario_preset_ships_its_file():
    assert sorted(p.stem for p in (PACKAGE / "scenarios").glob("*.toml")) == sorted(PRESETS)


def test_every_directory_of_modules_is_a_package_setuptools_finds():
    # [tool.setuptools.packages.find] finds regular packages only: a directory of modules
    # without __init__.py would be left out of the wheel
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == ["frt_experiments*"]
    dirs = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert sorted(str(d.relative_to(ROOT)) for d in dirs if not (d / "__init__.py").exists()) == []


def test_the_sdist_carries_the_licence_changelog_and_what_the_tests_read():
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8").splitlines()
    included = {word for line in manifest if line.startswith(("include ", "graft "))
                for word in line.split()[1:]}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "tests", ".ci/postgres.sh"} <= included
    # the directories the tests read beside them (tests/test_readme.py, tests/test_notebooks.py,
    # tests/simulate/test_sim_scenario.py and the benchmark tests)
    assert {"benchmarks", "notebooks", "simulations"} <= included
