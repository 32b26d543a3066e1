"""The distribution's metadata, read from pyproject.toml without building anything: the name users
install, the extras each optional import needs, the platforms the test extra resolves on, and the
lists scripts/dist_check.sh relies on. scripts/dist_check.sh builds and tests the sdist and wheel.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement  # pytest's own dependency

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")

ROOT = Path(__file__).resolve().parents[1]
with open(ROOT / "pyproject.toml", "rb") as _handle:
    PYPROJECT = tomllib.load(_handle)
PROJECT = PYPROJECT["project"]
EXTRAS = {name: [Requirement(r) for r in reqs] for name, reqs in PROJECT["optional-dependencies"].items()}

#: Import name -> distribution name, for every third-party module convops may import.
DISTRIBUTION_OF = {
    "numpy": "numpy",
    "scipy": "scipy",
    "threadpoolctl": "threadpoolctl",
    "sklearn": "scikit-learn",
    "matplotlib": "matplotlib",
    "h5py": "h5py",
    "IPython": "ipython",
    "tqdm": "tqdm",
}


def test_distribution_name_is_ours_and_readme_says_how_to_install_it():
    """`convops` on the package index is another project: we publish under another name and keep
    the import name, and README gives both."""
    name = PROJECT["name"]
    assert name != "convops", "`pip install convops` installs an unrelated project: keep the distribution name"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"pip install {name}" in readme, f"README does not say `pip install {name}`"
    assert "import convops" in readme


def test_metadata_urls_are_not_other_peoples():
    """A URL in the metadata must be the project's own: the `convops` organisation on GitHub and
    convops.readthedocs.io are not (the first is the unrelated project's, the second never existed)."""
    for label, url in PROJECT.get("urls", {}).items():
        assert url.startswith("https://"), f"[project.urls] {label} = {url!r}: not https"
        assert not re.match(r"https://(github\.com/convops/|convops\.readthedocs\.io)", url), (
            f"[project.urls] {label} = {url!r} points at a site that is not this project's"
        )


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level names of every module imported anywhere under convops/, with the files importing them."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "convops").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "convops" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_declared():
    """Each module convops imports is a dependency or in an extra (scikit-learn in `data` for
    load_digits, matplotlib in `plot`), so that a user can install what an error asks for."""
    declared = {Requirement(r).name.lower() for r in PROJECT["dependencies"]}
    declared |= {r.name.lower() for reqs in EXTRAS.values() for r in reqs}
    imports = _third_party_imports()
    assert "sklearn" in imports, "convops.datasets.load_digits no longer imports scikit-learn? update this test"
    unknown = sorted(set(imports) - set(DISTRIBUTION_OF))
    assert not unknown, (
        f"convops imports {unknown} ({[sorted(imports[u]) for u in unknown]}): add it to DISTRIBUTION_OF and declare it"
    )
    missing = {top: sorted(files) for top, files in imports.items() if DISTRIBUTION_OF[top].lower() not in declared}
    assert not missing, f"imported but neither a dependency nor an extra of pyproject.toml: {missing}"
    assert [r.name for r in EXTRAS["data"]] == ["scikit-learn"]
    assert [r.name for r in EXTRAS["plot"]] == ["matplotlib"]


PLATFORMS = [  # (platform_system, platform_machine) of each wheel platform in [tool.cibuildwheel]
    ("Linux", "x86_64"),
    ("Linux", "aarch64"),
    ("Darwin", "x86_64"),
    ("Darwin", "arm64"),
    ("Windows", "AMD64"),
]


@pytest.mark.parametrize(("system", "machine"), PLATFORMS)
def test_test_extra_installs_one_tensorflow_that_exists_there(system, machine):
    """tensorflow-cpu has wheels for Linux and Windows on x86-64 only; elsewhere the test extra
    must ask for tensorflow. Exactly one of the two on every platform, at the same version."""
    environment = {"platform_system": system, "platform_machine": machine, "python_version": "3.11"}
    chosen = [r for r in EXTRAS["test"] if r.name.startswith("tensorflow") and r.marker.evaluate(environment)]
    want = "tensorflow-cpu" if system in ("Linux", "Windows") and machine in ("x86_64", "AMD64") else "tensorflow"
    assert [r.name for r in chosen] == [want], f"{system}/{machine}: the test extra installs {chosen}"
    assert {str(r.specifier) for r in EXTRAS["test"] if r.name.startswith("tensorflow")} == {str(chosen[0].specifier)}


def test_python_versions_agree_across_classifiers_and_wheel_builds():
    classified = sorted(
        c.rsplit(" ", 1)[-1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    built = sorted(f"3.{b[3:-2]}" for b in PYPROJECT["tool"]["cibuildwheel"]["build"])
    assert classified == built == ["3.10", "3.11", "3.12", "3.13"], (classified, built)
    assert PROJECT["requires-python"] == ">=3.10"


def test_wheel_matrix_and_its_smoke_test():
    cibw = PYPROJECT["tool"]["cibuildwheel"]
    assert cibw["linux"]["archs"] == ["x86_64", "aarch64"]
    assert cibw["macos"]["archs"] == ["x86_64", "arm64"]
    assert cibw["windows"]["archs"] == ["AMD64"]
    # Only GNU ld puts debug info into the extension: MSVC writes none unless asked, Apple's
    # linker leaves it in the object files.
    assert "-Wl,--strip-debug" in cibw["linux"]["environment"]["LDFLAGS"], "manylinux wheels would carry debug info"
    assert "CFLAGS" not in cibw["linux"]["environment"], "CFLAGS replaces the interpreter's flags (-DNDEBUG)"
    script = re.search(r"\{project\}/(\S+\.py)", cibw["test-command"]).group(1)
    assert (ROOT / script).is_file(), script
    included = [
        line.split()[1:] for line in (ROOT / "MANIFEST.in").read_text().splitlines() if line.startswith("include ")
    ]
    assert any(script in names for names in included), f"{script} is not in the sdist (MANIFEST.in)"


def test_dist_check_selects_out_only_tests_that_exist():
    """scripts/dist_check.sh names the tests an sdist cannot run; a renamed test must not leave a
    stale name behind (pytest would silently deselect nothing) and the list must stay short."""
    script = (ROOT / "scripts" / "dist_check.sh").read_text()
    block = script[script.index("SDIST_OUT=(") : script.index("\n)\n", script.index("SDIST_OUT=("))]
    entries = re.findall(r"--(ignore|ignore-glob|deselect)=(\S+)", block)
    assert 4 <= len(entries) <= 12, entries
    for kind, target in entries:
        path, _, function = target.partition("::")
        if kind == "ignore-glob":
            assert list(ROOT.glob(path.strip("'"))), f"dist_check.sh selects out {target}, which matches no file"
            continue
        assert (ROOT / path).exists(), f"dist_check.sh selects out {target}, which does not exist"
        if kind == "deselect":
            assert f"def {function}(" in (ROOT / path).read_text(encoding="utf-8"), f"{target} does not exist"
