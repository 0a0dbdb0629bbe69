"""The pipeline on the device: deploy/rest_server/static/ondevice/ in headless Chromium, with
LiteRT.js and the same .tflite files, against the conformance suite (stage by stage and end to
end), against the server's answers, with deliberately broken ports that must fail; and the page
answering on the device with the server stopped."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from conformance.check import TOLERANCES, check, stage_deviations
from conformance.vectors import load_vectors
from glasses_core import GlassesClassifier
from serving import MTFL_GLASSES, SHIPPED_MODEL, running_server
from test_server_browser import browser, wait_for  # noqa: F401  (the module-scoped Chromium)

ROOT = Path(__file__).resolve().parent.parent
HARNESS = (Path(__file__).parent / "js" / "harness.js").read_text()
MODELS = ROOT / "models"


@pytest.fixture(scope="module")
def server():
    with running_server(SHIPPED_MODEL) as running:
        yield running


@pytest.fixture(scope="module")
def vectors():
    return load_vectors()


@pytest.fixture(scope="module")
def page(browser, server):  # noqa: F811
    browser.set_script_timeout(120)
    browser.get(server.url + "/")
    loaded = js(browser, "load")
    assert loaded["config"]["model_id"] == GlassesClassifier().model_id
    return browser


def js(browser, command: str, **payload):
    result = browser.execute_async_script(HARNESS, command, payload)
    if isinstance(result, dict) and "error" in result:
        raise AssertionError(f"in the page: {result['error']}")
    return result


def arrays(value):
    """The harness's JSON with each crop ({rgb, width}) as a (64, 64, 3) uint8 array."""
    if isinstance(value, dict) and set(value) == {"rgb", "width"}:
        return np.frombuffer(base64.b64decode(value["rgb"]), np.uint8).reshape(value["width"], value["width"], 3)
    if isinstance(value, dict):
        return {k: arrays(v) for k, v in value.items()}
    if isinstance(value, list):
        return [arrays(v) for v in value]
    return value


def encoded(path: str) -> str:
    return base64.b64encode((ROOT / path).read_bytes()).decode()


def expected_for_js(record: dict) -> dict:
    faces = [{**f, "crop": base64.b64encode(np.ascontiguousarray(f["crop"]).tobytes()).decode()}
             for f in record["faces"]]
    return json.loads(json.dumps({**record, "faces": faces}))


def run_js(page, vectors, photos, port: str = ""):
    stages = {p: arrays(js(page, "stages", photo=encoded(p), expected=expected_for_js(vectors["photos"][p]), port=port))
              for p in photos}
    records = {p: arrays(js(page, "analyse", photo=encoded(p), port=port)) for p in photos}
    return stages, records


def test_the_browser_pipeline_passes_the_conformance_suite(page, vectors):
    stages, records = run_js(page, vectors, list(vectors["photos"]))
    failed = {photo: why for photo, why in check(vectors, stages, records).items() if why}
    assert not failed, failed
    # the server's runtime, the same answers: the pipeline's own (the fallback crop's for a photo
    # without a face, as the crop contract has it; the page then says no_face, as the server does)
    server_answers = {p: GlassesClassifier().predict(ROOT / p).guessed() for p in vectors["photos"]}
    for photo, record in records.items():
        assert record["answer"] == server_answers[photo].answer, photo
        assert abs(record["probability"] - server_answers[photo].probability) <= TOLERANCES.probability, photo


@pytest.mark.parametrize("port, stage", [("swap_eyes", "refined_eyes"), ("no_levelling", "geometry_angle"),
                                         ("pixels_255", "classify")])
def test_a_broken_port_in_the_browser_fails(page, vectors, port, stage):
    photos = [p for p in vectors["photos"] if "turned_30" in p or "two_faces" in p or "0017" in p]
    stages, records = run_js(page, vectors, photos, port)
    subset = {**vectors, "photos": {p: vectors["photos"][p] for p in photos}}
    failed = {photo: why for photo, why in check(subset, stages, records).items() if why}
    assert sorted(failed) == sorted(photos)
    minimum = vectors["crop"]["min_face_score"]
    assert max(stage_deviations(vectors["photos"][p], stages[p], minimum)[stage] for p in photos) \
        > 10 * getattr(TOLERANCES, stage)


def test_a_port_that_cuts_black_past_the_frame_fails_in_the_browser(page, vectors):
    """Preprocessing 9: the crop carries the photo's edge on where it leaves the photo. The page cut
    black there (preprocessing 8's crop) fails at the crop stage on the photos the frame cuts most,
    and passes on one whose crop stays inside it."""
    cut_most = [p for p in vectors["photos"] if any(k in p for k in ("close_up", "0008", "0096"))]
    inside = [p for p in vectors["photos"] if "0017" in p]
    stages, records = run_js(page, vectors, cut_most + inside, "black_outside")
    subset = {**vectors, "photos": {p: vectors["photos"][p] for p in cut_most + inside}}
    failed = {photo: why for photo, why in check(subset, stages, records).items() if why}
    assert sorted(failed) == sorted(cut_most)
    assert all(any(why.startswith("crop:") for why in failed[p]) for p in cut_most)


def test_every_tensor_is_freed(page):
    counted = js(page, "tensors", photo=encoded("conformance/photos/two_faces.jpg"))
    assert counted["tensors"] >= 2 * (1 + 2 + 2)  # in and out: the detector, two faces' mesh looks, two crops
    assert counted["alive"] == 0


def test_the_webcam_is_answered_on_the_device_frame_after_frame(server, tmp_path):
    """Chromium's fake camera (a moving test pattern): the live loop answers frame after frame on
    the device, and says its frame rate, until it is stopped."""
    from selenium.webdriver.common.by import By
    driver = chromium_with_fake_camera(tmp_path)
    try:
        driver.get(server.url + "/")
        driver.find_element(By.CSS_SELECTOR, "input[name=mode][value=device]").click()
        wait_for(driver, lambda d: "Ready" in d.find_element(By.ID, "status").text, timeout=60)
        driver.find_element(By.ID, "webcam").click()
        wait_for(driver, lambda d: int(d.find_element(By.ID, "webcam").get_attribute("data-frames") or 0) >= 3, timeout=60)
        assert "frames/s" in driver.find_element(By.ID, "status").text
        assert driver.find_element(By.ID, "answered-by").get_attribute("data-by") == "device"
        driver.find_element(By.ID, "webcam").click()
        wait_for(driver, lambda d: d.find_element(By.ID, "webcam").text == "Use the webcam")
    finally:
        driver.quit()


def chromium_with_fake_camera(profile: Path):
    import os

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from test_server_browser import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def test_litert_js_refuses_the_dynamic_batch_and_runs_the_fixed_one(page):
    with pytest.raises(AssertionError, match=r"does not match expected ranked tensor type UInt8\[-1, 64, 64, 3\]"):
        js(page, "compile", model=base64.b64encode((MODELS / "glasses_int8.tflite").read_bytes()).decode())
    fixed = js(page, "compile", model=base64.b64encode((MODELS / "glasses_int8_batch1.tflite").read_bytes()).decode())
    glasses, dark = GlassesClassifier(MODELS / "glasses_int8.tflite").predict_crops_and_kinds(
        np.zeros((1, 64, 64, 3), np.uint8))  # both outputs: 1/256 a step, zero point 0
    assert fixed == {"probability": [int(round(glasses[0] * 256))], "dark_probability": [int(round(dark[0] * 256))]}


def test_the_page_gives_up_on_a_second_look_s_face_where_the_core_does(page):
    """Issue 26: on the benchmarks' frame without a face, the turned look finds a false face the mesh
    reads below GIVE_UP; the page, like the core, refines it twice and not MESH_PASSES times."""
    from glasses_core import CropConfig, Detectors
    from glasses_core.locate import GIVE_UP
    from test_locate import benchmark_frame, mesh_presences
    frame = benchmark_frame("640x480", face=False)
    faces, core = mesh_presences(Detectors(CropConfig()), frame, GIVE_UP)
    looked = js(page, "mesh_looks", photo=base64.b64encode(frame).decode())
    assert not faces and not looked["face_found"]
    assert len(looked["presences"]) == len(core) == 2, (looked["presences"], core)
    assert max(looked["presences"]) < GIVE_UP
    # the same reads: the port cuts the turned look's regions as the core does (with the photo's edge
    # past the frame instead of black, the core reads -5.5 and -4.5: tests/test_locate.py)
    assert np.allclose(looked["presences"], core, atol=0.5), (looked["presences"], core)


def test_the_page_gives_up_on_an_upright_face_where_the_core_does(page):
    """Preprocessing 12: in the conformance suite's frame without a face the upright look finds a false face
    the mesh reads below GIVE_UP; the page, like the core, refines it twice and no further, and keeps it."""
    from glasses_core import CropConfig, Detectors
    from glasses_core.locate import GIVE_UP
    from test_locate import mesh_presences
    frame = (ROOT / "conformance" / "photos" / "false_face.jpg").read_bytes()
    detectors = Detectors(CropConfig())
    faces, core = mesh_presences(detectors, frame, GIVE_UP)
    _, in_full = mesh_presences(detectors, frame, GIVE_UP, upright_give_up=None)
    looked = js(page, "mesh_looks", photo=base64.b64encode(frame).decode())
    assert len(faces) == 1 and looked["face_found"]
    assert len(looked["presences"]) == len(core) == 2 < len(in_full), (looked["presences"], core, in_full)
    assert max(looked["presences"]) < GIVE_UP
    assert np.allclose(looked["presences"], core, atol=0.5), (looked["presences"], core)


def test_the_page_s_second_looks_read_what_the_core_s_read(page, monkeypatch):
    """Preprocessing 13: on a 640 x 480 frame without a face every look runs; the page's BlazeFace reads
    the images the core's does, in the same order: the upright look's copy of the view (128 x 96), the
    full decode in detail (at 384 px), that copy turned three times and the widened look's 128 x 128
    square. The page before shrank each turn from the 320 x 240 view and drew a 640 x 640 canvas for the widened look."""
    from glasses_core.face_detect import FaceDetector
    from glasses_core.geometry import as_pillow
    from test_locate import benchmark_frame
    frame = benchmark_frame("640x480", face=False)
    core, detect = [], FaceDetector.detect

    def noting(self, image, long_side=None):
        core.append([*as_pillow(image).size, long_side])
        return detect(self, image, long_side)
    monkeypatch.setattr(FaceDetector, "detect", noting)
    assert not GlassesClassifier().predict(frame).face_found
    looked = js(page, "detector_inputs", photo=base64.b64encode(frame).decode())
    assert core == [[128, 96, None], [640, 480, 384], [96, 128, None], [96, 128, None], [128, 96, None],
                    [128, 128, None]]
    assert looked == core, looked


def test_the_page_answers_on_the_device_and_sends_no_photo_even_with_the_server_stopped(browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    examples = sorted((ROOT / "examples").glob("*.jpg"))
    expected = {p.name: GlassesClassifier().predict(p) for p in examples}
    with running_server(SHIPPED_MODEL) as server:
        browser.get(server.url + "/")
        browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=device]").click()
        wait_for(browser, lambda d: "Ready" in d.find_element(By.ID, "status").text, timeout=60)
        browser.find_element(By.ID, "file").send_keys("\n".join(str(p) for p in examples[:2]))
        wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history tbody tr")) == 2)
        requests = [line for line in server.lines if " GET " in line or " POST " in line]
        assert requests and not [line for line in requests if " POST " in line]  # no photo went anywhere
    browser.find_element(By.ID, "file").send_keys("\n".join(str(p) for p in examples))  # the server is gone
    rows = wait_for(browser, lambda d: (lambda r: r if len(r) >= 2 + len(examples) else None)(
        d.find_elements(By.CSS_SELECTOR, "#history tbody tr")), timeout=90)
    assert len(rows) == 2 + len(examples)
    for row in rows[2:]:
        name, _, probability, kind, who = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        assert who == "device" and row.get_attribute("data-answer") == expected[name].answer, name
        assert kind == (expected[name].kind or "–"), name
        assert abs(float(probability) - expected[name].probability) <= TOLERANCES.probability, name
    assert browser.find_element(By.ID, "answered-by").get_attribute("data-by") == "device"
    assert "on this device" in browser.find_element(By.ID, "answered-by").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#faces li canvas.crop")) == len(expected[examples[-1].name].faces)
    assert "error" not in browser.find_element(By.ID, "status").get_attribute("class")


def test_the_page_says_no_face_on_the_device_as_the_server_does(browser, server):  # noqa: F811
    """Issue 29: a photo without a face is "No face found" on the page, answered on the device
    too; the model's guess on the fallback crop is one line called a guess."""
    from selenium.webdriver.common.by import By
    no_face = ROOT / "conformance" / "photos" / "no_face.jpg"
    result = GlassesClassifier().predict(no_face)
    assert result.answer == "no_face"
    browser.get(server.url + "/")
    browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=device]").click()
    wait_for(browser, lambda d: "Ready" in d.find_element(By.ID, "status").text, timeout=60)
    browser.find_element(By.ID, "file").send_keys(str(no_face))
    shown = wait_for(browser, lambda d: d.find_element(By.ID, "answer").get_attribute("data-answer"), timeout=60)
    assert shown == "no_face" and browser.find_element(By.ID, "answer").text == "No face found"
    assert browser.find_element(By.ID, "answered-by").get_attribute("data-by") == "device"
    (item,) = browser.find_elements(By.CSS_SELECTOR, "#faces li")
    label = {"glass": "Glasses", "no_glass": "No glasses"}[result.fallback.answer]
    assert item.get_attribute("class") == "guess" and item.text.startswith(f"A guess from the centre of the photo: {label}")


def test_the_page_says_which_glasses_from_the_server_and_on_the_device(browser, everyone_wears_glasses,  # noqa: F811
                                                                      data_dir):
    """Issue 24: the page shows each photo's kind of glasses and each face's P(dark), answered by
    the server and on the device (which reads the second output by its name), as Python does."""
    from selenium.webdriver.common.by import By
    classifier = GlassesClassifier(everyone_wears_glasses)
    results = {p: classifier.predict(data_dir / "mtfl" / p) for p in MTFL_GLASSES}
    # the photo whose kind is farthest from the kind threshold: the device's float rounding cannot turn it
    photo = max(results, key=lambda p: abs(results[p].faces[0].dark_probability - classifier.config.kind_threshold))
    expected = results[photo]
    assert expected.kind in ("clear", "dark")
    shown = {"clear": "clear glasses", "dark": "sunglasses"}[expected.kind]
    with running_server(everyone_wears_glasses) as server:
        browser.get(server.url + "/")
        for count, mode in enumerate(("server", "device"), 1):
            browser.find_element(By.CSS_SELECTOR, f"input[name=mode][value={mode}]").click()
            browser.find_element(By.ID, "file").send_keys(str(data_dir / "mtfl" / photo))
            rows = wait_for(browser, lambda d: (lambda r: r if len(r) == count else None)(
                d.find_elements(By.CSS_SELECTOR, "#history tbody tr")), timeout=90)
            _, _, probability, kind, who = [cell.text for cell in rows[-1].find_elements(By.TAG_NAME, "td")]
            assert (who, kind) == (mode, expected.kind)
            assert abs(float(probability) - expected.probability) <= TOLERANCES.probability
            assert browser.find_element(By.ID, "answer").text == f"Glasses ({shown})"
            faces = browser.find_elements(By.CSS_SELECTOR, "#faces li")
            assert len(faces) == len(expected.faces) and f"{shown}: P(dark) " in faces[0].text
            dark = float(faces[0].text.rsplit("P(dark) ", 1)[1].rstrip(")"))
            assert abs(dark - expected.faces[0].dark_probability) <= TOLERANCES.probability

