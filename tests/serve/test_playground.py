"""The playground page at ``/``: served by the app, open without the key, using only the public API;
and, where Chromium and Selenium are installed, driven in a headless browser (cards listed, a digit
drawn and classified, text streamed, the run's card and plots shown, a drawn graph's nodes classified, a
CartPole episode played), with screenshots saved under the test's temporary folder."""

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
    for model in ("mlp_classifier", "gpt", "gcn", "dqn"):
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
    for used in ("/v1/models/${m.name}/predict", "/v1/models/${m.name}/sample", "/v1/models/${m.name}/card"):
        assert used in page
    assert "/v1/models/${m.name}/act" in page


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
            wait.until(lambda b: len(b.find_elements(By.CLASS_NAME, "card")) == 4)
            # every card shows its run's plots (fetched through GET /v1/models/{name}/card and .../plots/...)
            loaded_plots = (
                "return [...document.querySelectorAll('#model-mlp_classifier img.plot')]"
                ".filter(i => i.naturalWidth > 0).length"
            )
            wait.until(lambda b: b.execute_script(loaded_plots) >= 1)
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
            # node classification: the preset graph, then one node added by a click on empty space
            graph = browser.find_element(By.ID, "model-gcn")
            browser.execute_script("arguments[0].scrollIntoView()", graph)
            labelled = graph.find_element(By.CLASS_NAME, "answer")
            graph.find_element(By.XPATH, ".//button[text()='classify nodes']").click()
            wait.until(lambda b: labelled.text.startswith("8 nodes labelled"))
            drawing = graph.find_element(By.CLASS_NAME, "graph")
            ActionChains(browser).move_to_element_with_offset(drawing, 0, 0).click().perform()  # its empty middle
            graph.find_element(By.XPATH, ".//button[text()='classify nodes']").click()
            wait.until(lambda b: labelled.text.startswith("9 nodes labelled"))
            browser.save_screenshot(str(tmp_path / "graph.png"))
            # a CartPole episode: actions from POST /act, the environment simulated in the page
            cart = browser.find_element(By.ID, "model-dqn")
            browser.execute_script("arguments[0].scrollIntoView()", cart)
            cart.find_element(By.XPATH, ".//button[text()='play episode']").click()
            episode = cart.find_element(By.CLASS_NAME, "answer")
            WebDriverWait(browser, 60).until(lambda b: episode.text.startswith("return "))
            steps = int(episode.text.split()[1])
            assert 1 <= steps <= 500
            time.sleep(min(2.0, 0.02 * steps + 0.2))  # let the replay draw its frames
            browser.save_screenshot(str(tmp_path / "cartpole.png"))
    finally:
        browser.quit()
    for shot in ("cards", "answers", "graph", "cartpole"):
        assert (tmp_path / f"{shot}.png").stat().st_size > 1000
    print(f"screenshots: {tmp_path}")
