"""The on-device pipeline in headless Chromium (LiteRT.js, WebAssembly, one thread) against
Python's predict(), on the same photos as bench_pipeline.py, in one run.

    .venv/bin/python benchmarks/bench_browser.py [--runs 20] [--json benchmarks/browser_results.json]

Per photo size: the median ms of the page's whole pipeline on the JPEG bytes (decode, faces,
eyes, crops, classifier: ondevice/pipeline.js's analyse()), the median ms of
``GlassesClassifier(num_threads=1).predict(jpeg_bytes)``, and their ratio. Needs Debian's chromium
and chromium-driver, node_modules/ (make), and a quiet machine for figures worth publishing.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling photos.py
sys.path.insert(0, str(ROOT / "tests"))  # the browser and server helpers the tests use
from photos import SIZES, benchmark_photo, median_ms  # noqa: E402
from serving import SHIPPED_MODEL, running_server  # noqa: E402

from glasses_core import GlassesClassifier  # noqa: E402

HARNESS = (ROOT / "tests" / "js" / "harness.js").read_text()


def chromium(profile: str):
    import os

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from test_server_browser import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(600)
    return driver


def page_ms(driver, command: str, **payload):
    result = driver.execute_async_script(HARNESS, command, payload)
    if isinstance(result, dict) and "error" in result:
        raise RuntimeError(result["error"])
    return result


def measure(runs: int) -> dict:
    classifier = GlassesClassifier(num_threads=1)
    results = {}
    with tempfile.TemporaryDirectory() as profile, running_server(SHIPPED_MODEL) as server:
        driver = chromium(profile)
        try:
            driver.get(server.url + "/")
            page_ms(driver, "load")
            for size in SIZES:
                jpeg = benchmark_photo(size)
                browser = page_ms(driver, "bench", photo=base64.b64encode(jpeg).decode(), runs=runs, warmup=3)
                python = median_ms(lambda: classifier.predict(jpeg), runs)
                results[size] = {"browser_ms": round(browser, 2), "predict_ms": round(python, 2),
                                 "ratio": round(browser / python, 2)}
            results["chromium"] = driver.capabilities.get("browserVersion", "")
        finally:
            driver.quit()
    return results


def markdown(results: dict, runs: int) -> str:
    lines = ["# The pipeline in the browser against predict()", "",
             f"`python3 benchmarks/bench_browser.py --runs {runs}`: headless Chromium "
             f"{results['chromium']}, LiteRT.js (WebAssembly, one thread) and `glasses_int8_batch1.tflite`, "
             "against `GlassesClassifier(num_threads=1).predict()` with `glasses_int8.tflite`, "
             "on the JPEGs of `benchmarks/photos.py`, medians, measured in one run.", "",
             "| photo | browser (ms) | predict() (ms) | browser / predict() |", "|---|---:|---:|---:|"]
    for size in SIZES:
        r = results[size]
        lines.append(f"| {size} | {r['browser_ms']:.2f} | {r['predict_ms']:.2f} | {r['ratio']:.2f}x |")
    lines += ["", "The rows docs/results.md and the README copy:", "", "| section | measurement | value |",
              "|---|---|---|"] + doc_rows(results)
    return "\n".join(lines) + "\n"


def doc_rows(results: dict) -> list[str]:
    return [f"| browser, on the device (LiteRT.js, 1 thread) | {size} against predict() in the same run | "
            f"{results[size]['ratio']:.2f}x ({results[size]['browser_ms']:.2f} ms against "
            f"{results[size]['predict_ms']:.2f} ms) |" for size in SIZES]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per photo (after 3 warm-up runs)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "browser_results.json")
    args = parser.parse_args(argv)
    results = measure(args.runs)
    args.json.write_text(json.dumps({"runs": args.runs, **results}, indent=2) + "\n")
    args.json.with_suffix(".md").write_text(markdown(results, args.runs))
    print(markdown(results, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
