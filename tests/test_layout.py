"""The tests mirror the package (issue #26): every ``tests/**/test_*.py`` tests the module of
its path (or one aspect of it, ``test_<module>_<aspect>.py``), or is one of the cross-cutting
tests listed in ``tests/README.md``."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def cross_cutting() -> set[str]:
    """The test files ``tests/README.md`` lists under its cross-cutting heading."""
    readme = (TESTS / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Cross-cutting tests", 1)[1]
    return set(re.findall(r"^- `(tests/[^`]+\.py)`", section, re.M))


def mirrored(test: Path) -> bool:
    """``tests/a/b/test_m.py`` mirrors ``cxml/a/b/m.py``; ``tests/serve/a/test_m.py`` mirrors
    ``serve/a/m.py``; ``test_m_aspect.py`` mirrors ``m.py`` too."""
    folders = test.relative_to(TESTS).parts[:-1]
    if folders[:1] == ("serve",):
        package = ROOT.joinpath("serve", *folders[1:])
    else:
        package = ROOT.joinpath("cxml", *folders)
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    name = test.stem.removeprefix("test_")
    return name in modules or any(name.startswith(f"{module}_") for module in modules)


def test_every_test_file_mirrors_a_module_or_is_listed_as_cross_cutting() -> None:
    listed = cross_cutting()
    tests = sorted(TESTS.rglob("test_*.py"))
    assert len(tests) > 50  # the glob found the suite
    strays = [
        str(test.relative_to(ROOT))
        for test in tests
        if not mirrored(test) and str(test.relative_to(ROOT)) not in listed
    ]
    assert not strays, (
        "these test files mirror no module under cxml/ or serve/: move each to the path of the "
        f"module it tests, or list it as cross-cutting in tests/README.md: {strays}"
    )


def test_every_cross_cutting_file_listed_exists() -> None:
    missing = sorted(path for path in cross_cutting() if not (ROOT / path).is_file())
    assert len(cross_cutting()) >= 10 and not missing, missing
