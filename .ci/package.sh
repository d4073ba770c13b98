#!/usr/bin/env bash
# The package as a user gets it (issue 20, part 3): build the sdist and the wheel, check their
# metadata for the package index, install the wheel into a clean virtual environment and run
# `frt demo --customers 5000` there, then install the sdist the same way. Used by .ci/run (in
# the background, beside the README's test command); runs by itself too:
#
#   bash .ci/package.sh             from the repository's root; a temporary directory, removed
#                                   at the end
#
# The build reads a copy of the work tree's files that git tracks or would track (tracked and
# untracked files, not those .gitignore ignores; in a clean clone, the commit), so no virtual
# environment, cache or build output reaches the sdist, and the build writes no egg-info into
# the work tree while .ci/run installs from it. The wheel is built from the sdist (python -m
# build), so the sdist is checked to hold what the wheel needs. The clean environment has no -e
# install and runs from an empty directory: the project's source is nowhere on sys.path. Its
# Python is $PYTHON (default python3). Exits non-zero, naming the step, when any step fails;
# pip's own output is shown only then.
set -euo pipefail

python="${PYTHON:-python3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/frt-package.XXXXXX)"
started=$SECONDS
# the two environments are most of a gigabyte of small files: their removal is timed too
trap 'rm -rf "$work"; echo "== removed the temporary directory ($((SECONDS - started)) s)"' EXIT
step() { echo "== $1 ($((SECONDS - started)) s)"; }
fail() { echo "package.sh: $*" >&2; exit 1; }
pip_quiet() {  # pip ARGS...: pip's output shown only when it fails
    "$@" > "$work/pip.log" 2>&1 || { cat "$work/pip.log"; fail "$* failed (pip's output above)"; }
}

step "copy the files of $root that git tracks or would track"
mkdir -p "$work/src" "$work/dist" "$work/run"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked files deleted in the work tree are skipped (tar's --ignore-failed-read)
    (cd "$root" && git ls-files -z --cached --others --exclude-standard \
        | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$work/src"
else
    (cd "$root" && tar --exclude=./.venv --exclude=./.git -cf - .) | tar -xf - -C "$work/src"
fi
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$work/src/frt_experiments/_version.py")"
[ -n "$version" ] || fail "no __version__ = \"...\" line in frt_experiments/_version.py"

step "python -m build (sdist, then the wheel from the sdist) and twine check, version $version"
"$python" -m venv "$work/tools"
pip_quiet "$work/tools/bin/pip" install build twine
if ! (cd "$work/src" && "$work/tools/bin/python" -m build --outdir "$work/dist" .) \
    > "$work/build.log" 2>&1; then
    cat "$work/build.log"
    fail "python -m build failed (its output above)"
fi
wheel="$work/dist/frt_experiments-$version-py3-none-any.whl"
sdist="$work/dist/frt_experiments-$version.tar.gz"
[ -f "$wheel" ] && [ -f "$sdist" ] || fail "expected $(basename "$wheel") and $(basename "$sdist");" \
    "built: $(ls "$work/dist")"
"$work/tools/bin/twine" --no-color check --strict "$wheel" "$sdist"
ls -l "$work/dist"
# What each archive must hold: the wheel the package, its data and the licence, no tests; the
# sdist the licence, changelog and README, the tests and the package data.
"$work/tools/bin/python" - "$wheel" "$sdist" "$version" "$work/src" <<'EOF' \
    || fail "the archives lack files (above)"
import sys
import tarfile
import zipfile
from pathlib import Path

wheel, sdist, version, src = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
data = [p.relative_to(src).as_posix() for p in sorted((src / "frt_experiments").rglob("*"))
        if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts]
in_wheel = set(zipfile.ZipFile(wheel).namelist())
need = [*data, f"frt_experiments-{version}.dist-info/licenses/LICENSE"]
problems = [f"wheel: no {n}" for n in need if n not in in_wheel]
problems += [f"wheel: holds {n}" for n in sorted(in_wheel)
             if n.split("/")[0] not in {"frt_experiments", f"frt_experiments-{version}.dist-info"}]
with tarfile.open(sdist) as tar:
    prefix = f"frt_experiments-{version}/"
    in_sdist = {n.removeprefix(prefix) for n in tar.getnames()}
need = [*data, "LICENSE", "CHANGELOG.md", "README.md", "PKG-INFO", "tests/conftest.py"]
problems += [f"sdist: no {n}" for n in need if n not in in_sdist]
if problems:
    sys.exit("\n".join(problems))
print(f"wheel: {len(in_wheel)} files, the package data ({len(data)}) and LICENSE; sdist: "
      f"{len(in_sdist)} files, LICENSE, CHANGELOG.md, README.md and the tests")
EOF

step "install the wheel into a clean virtual environment"
"$python" -m venv "$work/clean"
pip_quiet "$work/clean/bin/pip" install --no-compile "$wheel"  # no .pyc: quicker in and out
cd "$work/run"  # an empty directory: neither the work tree nor the source copy on sys.path

# What only the installed package can show: it is imported from the environment, its version
# and metadata, and every data file it reads at run time (the scenario presets, py.typed) and
# the licence are installed.
check_installed() {
    "$work/clean/bin/python" - "$version" "$work/src/frt_experiments/scenarios" <<'EOF'
import sys
from importlib import metadata, resources
from pathlib import Path

import frt_experiments
from frt_experiments import load_scenario
from frt_experiments.simulate.scenario import PRESETS

version, scenarios = sys.argv[1], Path(sys.argv[2])
where = Path(frt_experiments.__file__).resolve()
if Path(sys.prefix).resolve() not in where.parents:
    sys.exit(f"frt_experiments imported from {where}, outside the environment {sys.prefix}")
if (frt_experiments.__version__, metadata.version("frt-experiments")) != (version, version):
    sys.exit(f"version {frt_experiments.__version__} (metadata "
             f"{metadata.version('frt-experiments')}), expected {version}")
meta = metadata.metadata("frt-experiments")
if meta["License-Expression"] != "Apache-2.0":
    sys.exit(f"License-Expression {meta['License-Expression']!r}, expected 'Apache-2.0'")
licence = [f for f in metadata.files("frt-experiments") or [] if f.name == "LICENSE"]
if not licence or "Apache License" not in licence[0].read_text(encoding="utf-8"):
    sys.exit("the Apache LICENSE is not installed with the distribution's metadata")
package = resources.files("frt_experiments")
missing = [p.name for p in sorted(scenarios.glob("*.toml"))
           if not package.joinpath("scenarios", p.name).is_file()]
if not package.joinpath("py.typed").is_file():
    missing.append("py.typed")
if missing:
    sys.exit(f"package data not installed: {', '.join(missing)}")
for name in PRESETS:
    load_scenario(name)
print(f"frt-experiments {version} from {where.parent}: metadata, licence, py.typed and "
      f"{len(PRESETS)} scenario presets installed")
EOF
}
check_installed || fail "the installed wheel (above)"
[ "$("$work/clean/bin/frt" --version)" = "frt $version" ] \
    || fail "frt --version printed '$("$work/clean/bin/frt" --version)', expected 'frt $version'"

# frt demo on the installed wheel: exits 0 and writes its report, tables and manifest.
run_demo() {
    local out="$work/run/$1"
    "$work/clean/bin/frt" demo --customers 5000 --out "$out" --no-progress > "$out.log" 2>&1 \
        || { cat "$out.log"; fail "frt demo --customers 5000 exited non-zero ($1, output above)"; }
    for f in report.html report.md results.csv trust.json staffing_curve.csv manifest.json; do
        [ -s "$out/$f" ] || { cat "$out.log"; fail "frt demo wrote no $f ($1)"; }
    done
    tail -n 1 "$out.log"
}
step "frt demo --customers 5000 from the wheel"
run_demo demo-wheel

step "install the sdist over it (pip builds it) and run the demo again"
pip_quiet "$work/clean/bin/pip" install --no-compile --force-reinstall --no-deps "$sdist"
check_installed || fail "the installed sdist (above)"
run_demo demo-sdist

step "done: the wheel and the sdist of frt-experiments $version install and run frt demo"
