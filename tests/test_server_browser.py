"""The web page in a real browser: headless Chromium (Debian's chromium and chromium-driver),
driven by Selenium, uploads a photo and reads the answer the page shows.

The network is closed on CI, so Chromium is started without anything that phones home and
Selenium is told to stay offline (no Selenium Manager download).
"""
from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import pytest

from glasses_core import GlassesClassifier
from serving import MTFL_GLASSES, MTFL_NO_GLASSES, running_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1024,900")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        why = ("the browser tests need Debian's chromium and chromium-driver: "
               "apt-get install -y chromium chromium-driver (.ci/run does)")
        if os.environ.get("CI"):
            pytest.fail(why)  # CI must run them
        warnings.warn(f"SKIPPED: {why}")  # listed in pytest's warnings summary, beside the skip
        pytest.skip(why)
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server(tiny_model_json):
    with running_server(tiny_model_json) as running:
        yield running


def upload(browser, url: str, photo: Path) -> None:
    from selenium.webdriver.common.by import By
    browser.get(url + "/")
    browser.find_element(By.ID, "file").send_keys(str(photo))


def wait_for(browser, condition, timeout: float = 20.0):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(browser, timeout).until(lambda driver: condition(driver))


@pytest.mark.parametrize("photo", [MTFL_GLASSES[0], MTFL_NO_GLASSES[0]])
def test_page_shows_the_answer_and_the_faces(browser, server, tiny_model_json, data_dir, photo):
    from selenium.webdriver.common.by import By
    path = data_dir / "mtfl" / photo
    expected = GlassesClassifier(tiny_model_json).predict(path)
    upload(browser, server.url, path)
    shown = wait_for(browser, lambda d: d.find_element(By.ID, "answer").get_attribute("data-answer"))
    assert shown == expected.answer
    assert browser.find_element(By.ID, "answer").text == {"glass": "Glasses", "no_glass": "No glasses"}[shown]
    wait_for(browser, lambda d: d.find_element(By.ID, "photo").is_displayed())
    faces = browser.find_elements(By.CSS_SELECTOR, "#faces li")
    assert len(faces) == len(expected.faces)
    # the face boxes are drawn: the canvas has pixels of the box colours
    drawn = browser.execute_script("""
        const c = document.getElementById('photo'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) {
          const near = (r, g, b) => Math.abs(d[i] - r) + Math.abs(d[i+1] - g) + Math.abs(d[i+2] - b) < 30;
          if (near(0x22, 0xc5, 0x5e) || near(0xf9, 0x73, 0x16)) n++;
        }
        return n;""")
    assert drawn > 100 if expected.face_found else drawn == 0
    assert "error" not in browser.find_element(By.ID, "status").get_attribute("class")


def test_page_shows_the_error_for_a_file_that_is_no_photo(browser, server, tmp_path):
    from selenium.webdriver.common.by import By
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    upload(browser, server.url, text)
    status = browser.find_element(By.ID, "status")
    wait_for(browser, lambda d: "error" in status.get_attribute("class"))
    assert "notes.txt" in status.text and "not a recognised image format" in status.text
    assert browser.find_element(By.ID, "answer").get_attribute("data-answer") == ""


def test_page_says_no_face_and_shows_the_guess_only_as_one(browser, server, tiny_model_json, tmp_path):
    """Issue 29: a picture without a face was shown "No glasses" in large type. Now the page
    says so, and the model's guess on its centre is one small line, called a guess."""
    from PIL import Image
    from selenium.webdriver.common.by import By
    grey = tmp_path / "grey.png"
    Image.new("RGB", (320, 240), (128, 128, 128)).save(grey)
    guess = GlassesClassifier(tiny_model_json).predict(grey).fallback
    upload(browser, server.url, grey)
    shown = wait_for(browser, lambda d: d.find_element(By.ID, "answer").get_attribute("data-answer"))
    assert shown == "no_face" and browser.find_element(By.ID, "answer").text == "No face found"
    (item,) = browser.find_elements(By.CSS_SELECTOR, "#faces li")
    assert item.get_attribute("class") == "guess" and item.text.startswith("A guess from the centre of the photo: ")
    assert f"probability of glasses {guess.probability:.3f}" in item.text
    assert browser.find_element(By.ID, "status").text == "no face found"
    row = browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")[-1]
    assert row.get_attribute("data-answer") == "no_face" and row.find_elements(By.TAG_NAME, "td")[2].text == "–"
