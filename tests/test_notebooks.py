"""The notebooks run, top to bottom, with a real kernel: on an empty store the first one makes
the demo world, and the others work on it; a failing cell fails the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.py"))

pytestmark = pytest.mark.slow  # a demo world, then four notebooks in a kernel


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notebooks")


def test_the_four_notebooks_are_there() -> None:
    assert [p.stem for p in NOTEBOOKS] == [
        "01-explore-feedback",
        "02-what-drives-churn",
        "03-retrain-and-promote",
        "04-time-to-churn",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_notebook_runs_from_top_to_bottom(
    path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("CXML_DATABASE_URL", f"sqlite:///{workspace / 'cxml.db'}")
    monkeypatch.setenv("CXML_MLFLOW_TRACKING_URI", f"sqlite:///{workspace / 'mlflow.db'}")
    notebook = jupytext.read(path)
    client = NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(workspace)}},
    )
    client.execute()  # raises CellExecutionError naming the cell that failed
    nbformat.write(notebook, workspace / f"{path.stem}.ipynb")  # kept for a look afterwards
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "every notebook draws something"
