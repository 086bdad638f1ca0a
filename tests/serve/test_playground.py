"""The playground page at ``/``: served by the app, open without the key, using only the public API;
and, where Chromium and Selenium are installed, driven in a headless browser (cards listed, a digit
drawn and classified, text streamed), with screenshots saved under the test's temporary folder."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_live import live_server

from dlzoo.serve import create_app


@pytest.fixture(scope="module")
def root(train_tiny, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("playground")
    for model in ("mlp_classifier", "gpt"):
        shutil.copytree(train_tiny(model), root / model / "r")
    return root


def test_the_page_is_served_and_uses_only_the_public_api(root: Path) -> None:
    with TestClient(create_app(root, api_key="k")) as c:
        r = c.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        page = r.text
        assert "/v1/models" in page and "Authorization" in page and "stream: true" in page
        paths = {p for p in c.get("/openapi.json", headers={"Authorization": "Bearer k"}).json()["paths"]}
    assert "/" not in paths  # not an API operation
    for used in ("/v1/models/${m.name}/predict", "/v1/models/${m.name}/sample"):
        assert used in page


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    chrome = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if chrome is None or driver is None:
        pytest.skip("no Chromium with chromedriver here (Debian: apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_the_page_in_a_headless_browser(root: Path, tmp_path: Path) -> None:
    browser = _browser()
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        with live_server(create_app(root)) as port:
            browser.set_window_size(1200, 1600)
            browser.get(f"http://127.0.0.1:{port}/")
            wait = WebDriverWait(browser, 20)
            wait.until(lambda b: len(b.find_elements(By.CLASS_NAME, "card")) == 2)
            browser.save_screenshot(str(tmp_path / "cards.png"))
            # draw a vertical stroke, classify it
            digit = browser.find_element(By.ID, "model-mlp_classifier")
            canvas = digit.find_element(By.CLASS_NAME, "draw")
            ActionChains(browser).move_to_element_with_offset(canvas, 0, -80).click_and_hold().move_by_offset(
                0, 160
            ).release().perform()
            digit.find_element(By.XPATH, ".//button[text()='classify']").click()
            answer = digit.find_element(By.CLASS_NAME, "answer")
            wait.until(lambda b: answer.text.startswith("label "))
            # stream text
            text = browser.find_element(By.ID, "model-gpt")
            text.find_element(By.XPATH, ".//button[text()='generate']").click()
            out = text.find_element(By.CLASS_NAME, "answer")
            wait.until(lambda b: len(out.text) >= 50)
            time.sleep(0.2)
            browser.save_screenshot(str(tmp_path / "answers.png"))
    finally:
        browser.quit()
    assert (tmp_path / "cards.png").stat().st_size > 1000 and (tmp_path / "answers.png").stat().st_size > 1000
