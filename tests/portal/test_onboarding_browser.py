"""Onboard an inventory in a real browser, in Spanish: upload an .xlsx, review, register, download the report.

Debian's Chromium driven by Playwright against ``provider-products serve`` on a fresh sandbox
(the fixtures of ``tests/portal/conftest.py``); the person signs in with the login ``serve``
printed. With ``PORTAL_SCREENSHOTS=1`` the review and progress pages are saved for docs/portal.md.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from tests.portal.conftest import PortalServer, portal_login, screenshot
from tests.portal.test_onboarding_service import xlsx_inventory

NAMES = ["ACETAMINOFEN 500MG TAB", "Ibuprofeno 400 mg tableta", "Rx torax", "Crema de manos marca Ñandú"]


def test_onboard_xlsx_inventory_in_the_browser(
    page: Any, portal_server: PortalServer, tmp_path: Path
) -> None:
    inventory = tmp_path / "Inventario farmacia.xlsx"
    inventory.write_bytes(xlsx_inventory(NAMES))
    portal_login(page, portal_server.login)
    page.get_by_role("link", name="Incorporar inventario").click()
    page.get_by_label("Archivo de inventario (CSV o .xlsx)").set_input_files(str(inventory))
    page.get_by_role("button", name="Subir y proponer códigos").click()
    page.wait_for_url(re.compile(r"/portal/onboarding/job_[0-9a-f]+$"))
    assert page.get_by_role("heading", name="Revisión: Inventario farmacia.xlsx").is_visible()

    # lines 3 to 6 of the sheet (a title row, then the header)
    acetaminofen = page.get_by_label("Decisión para la línea 3")
    assert acetaminofen.input_value() == "MED-SBX-0001"  # the matcher's confident proposal, accepted
    torax = page.get_by_label("Decisión para la línea 5")
    assert torax.input_value() == ""  # a tie: left undecided, with its candidates to choose from
    assert "tie" in page.locator('tr[data-line="5"] .reason').inner_text()
    page.get_by_label("Decisión para la línea 4").select_option("MED-SBX-0010")  # change a proposal
    torax.select_option("IMG-SBX-0002")
    page.get_by_label("Decisión para la línea 6").select_option(label="No está en el catálogo")
    screenshot(page, "onboarding-review")

    page.get_by_role("button", name="Guardar y registrar las filas aceptadas").click()
    page.wait_for_url(re.compile(r"/progress$"))
    page.get_by_text("Terminado.").wait_for()  # the page's script follows the run and reloads at its end
    assert page.locator("#count-registered").inner_text() == "3"
    assert page.locator("#progress-bar").get_attribute("value") == "3"
    screenshot(page, "onboarding-progress")

    with page.expect_download() as download:
        page.get_by_role("link", name="Descargar el informe (CSV)").click()
    assert download.value.suggested_filename == "Inventario farmacia.report.csv"
    body = Path(download.value.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [(r["line"], r["name"], r["decision"], r["product_code"], r["outcome"]) for r in rows] == [
        ("3", NAMES[0], "accepted", "MED-SBX-0001", "registered"),
        ("4", NAMES[1], "chosen", "MED-SBX-0010", "registered"),
        ("5", NAMES[2], "chosen", "IMG-SBX-0002", "registered"),
        ("6", NAMES[3], "not_in_catalogue", "", "skipped"),
    ]
    assert rows[0]["inventory_code"] == "1001"

    # the job is kept: the list shows it and reopening it shows the outcomes
    page.goto("/portal/onboarding")
    assert page.locator("#jobs tbody tr").first.inner_text().count("Registrado") == 1
    screenshot(page, "onboarding-jobs")
    page.get_by_role("link", name="Inventario farmacia.xlsx").click()
    assert page.locator('tr[data-line="4"] .outcome').inner_text() == "Registrado"
