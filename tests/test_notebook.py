"""notebooks/quickstart.ipynb runs top to bottom, in this interpreter, in under a minute."""

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "quickstart.ipynb"


@pytest.fixture
def this_python_kernel(tmp_path, monkeypatch) -> str:
    """A kernelspec running this very interpreter, whatever kernels Jupyter knows otherwise."""
    spec = tmp_path / "jupyter" / "kernels" / "nlpclf-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "nlpclf test", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "nlpclf-test"


def test_quickstart_runs_top_to_bottom(tmp_path, this_python_kernel):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells), "commit it without outputs"
    work = tmp_path / "cwd"
    work.mkdir()
    client = NotebookClient(
        notebook,
        kernel_name=this_python_kernel,
        timeout=120,
        resources={"metadata": {"path": str(work)}},
    )
    started = time.perf_counter()
    client.execute()
    assert time.perf_counter() - started < 60

    def text_of(cell):
        return "".join(
            out.get("text", "") + "".join(out.get("data", {}).get("text/plain", ""))
            for out in cell.outputs
        )

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "test accuracy" in text_of(code[2])
    predictions = text_of(code[3]).splitlines()
    expected = ["sci.space", "rec.autos", "talk.politics.misc", "comp.graphics"]
    assert [line.split()[0] for line in predictions] == expected
    assert any("image/png" in out.get("data", {}) for out in code[4].outputs)
    assert (work / "quickstart-output" / "run" / "checkpoints").is_dir()
