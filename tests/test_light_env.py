"""Inference needs no TensorFlow: a prediction in a fresh process of the light environment
(deploy/requirements.txt, where TensorFlow is not even installed) never imports it."""
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIGHT_PYTHON = ROOT / ".venv-deploy" / "bin" / "python"

SCRIPT = """
import json, sys
from glasses_core import GlassesClassifier
result = GlassesClassifier(sys.argv[1]).predict(sys.argv[2])
print(json.dumps({"answer": result.answer, "faces": len(result.faces),
                  "heavy": sorted(m for m in sys.modules if m.split('.')[0] in
                                  ('tensorflow', 'keras', 'coremltools', 'tornado', 'albumentations'))}))
"""


@pytest.fixture(scope="module")
def light_python():
    if not LIGHT_PYTHON.is_file():
        pytest.fail(f"{LIGHT_PYTHON} missing: `make test` creates the light environment")
    return LIGHT_PYTHON


def test_light_environment_has_no_tensorflow(light_python):
    probe = subprocess.run([light_python, "-c", "import tensorflow"], capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named" in probe.stderr


def test_prediction_imports_no_tensorflow(light_python, tiny_model_json, data_dir):
    photo = data_dir / "mtfl" / "lfw_5590" / "Aaron_Eckhart_0001.jpg"
    out = subprocess.run([light_python, "-c", SCRIPT, str(tiny_model_json), str(photo)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["answer"] in ("glass", "no_glass") and result["faces"] == 1
    assert result["heavy"] == []
