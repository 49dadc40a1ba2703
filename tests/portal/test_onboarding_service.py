"""Onboarding jobs (``portal/onboarding``): uploads read and matched, decisions, batch registration, report.

Called on the services inside transactions the tests open, on the real database of each backend,
with the sandbox catalogue the template database is loaded with.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import update

from provider_products.auth import service as auth_service
from provider_products.catalogue.models import CatalogueProduct
from provider_products.db.base import utcnow
from provider_products.db.engine import Database
from provider_products.errors import RecordNotFound, ValidationFailed
from provider_products.pagination import PageParams
from provider_products.portal.onboarding import inventory, report, runner, service
from provider_products.portal.onboarding.models import OnboardingJob
from provider_products.portal.onboarding.schemas import NOT_IN_CATALOGUE, JobRead, RowRead
from provider_products.registry import service as registry_service

CSV_INVENTORY = (
    "sku;nombre;cantidad\n"
    "A-1;ACETAMINOFEN 500MG TAB X 100;40\n"
    "A-2;Ibuprofeno 400 mg tableta;12\n"
    "A-3;Rx torax;1\n"
    "A-4;Crema de manos marca Ñandú;7\n"
    "A-5;amoxicilina 500 mg capsula;30\n"
).encode("cp1252")


def xlsx_inventory(names: list[str]) -> bytes:
    """An .xlsx inventory as pharmacies keep them: a title row, then a Spanish header, then the rows."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Farmacia"
    sheet.append(["Inventario de la farmacia, diciembre"])
    sheet.append(["Código", "Descripción", "Existencias"])
    for number, name in enumerate(names, start=1):
        sheet.append([1000 + number, name, number * 3])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def _provider(database: Database, slug: str) -> int:
    async with database.transaction(write=True) as conn:
        return await auth_service.create_provider(conn, slug=slug, name=slug.title())


@pytest.fixture
async def provider(database: Database) -> int:
    """The id of the provider under test."""
    return await _provider(database, "farmacia-a")


@pytest.fixture
async def other(database: Database) -> int:
    """The id of another provider."""
    return await _provider(database, "farmacia-b")


@pytest.fixture
def matchers(database: Database) -> inventory.MatcherCache:
    """The process's matcher over the database's catalogue."""
    return inventory.MatcherCache(database)


async def _job(
    database: Database, matchers: inventory.MatcherCache, provider_id: int, name: str, data: bytes
) -> JobRead:
    matched = await inventory.read_and_match(matchers, name, data)
    async with database.transaction(write=True) as conn:
        return await service.create_job(
            conn,
            provider_id=provider_id,
            upload=matched.upload,
            proposals=matched.proposals,
            catalogue_revision=matched.catalogue_revision,
            created_by="ana@farmacia-a.example",
        )


async def _rows(database: Database, provider_id: int, job_id: str) -> list[RowRead]:
    async with database.transaction() as conn:
        return await service.all_rows(conn, provider_id=provider_id, job_id=job_id)


async def _decide(database: Database, provider_id: int, job_id: str, choices: dict[int, str]) -> None:
    async with database.transaction(write=True) as conn:
        await service.decide(conn, provider_id=provider_id, job_id=job_id, choices=choices)


async def _registered_codes(database: Database, provider_id: int) -> set[str]:
    async with database.transaction() as conn:
        page = await registry_service.list_registrations(
            conn, provider_id=provider_id, product_type=None, query=None, params=PageParams(page=0, size=200)
        )
    return {p.product_code for p in page.content}


# --- creating a job from a file -------------------------------------------------------------------


async def test_create_job_from_csv_proposes_codes_with_reasons(
    database: Database, matchers: inventory.MatcherCache, provider: int
) -> None:
    job = await _job(database, matchers, provider, "inventario.csv", CSV_INVENTORY)
    assert (job.file_name, job.row_count, job.status) == ("inventario.csv", 5, "review")
    assert "CSV, windows-1252, ';'" in job.source
    rows = await _rows(database, provider, job.job_id)
    assert [(r.line, r.inventory_code, r.details) for r in rows][:2] == [
        (2, "A-1", {"cantidad": "40"}),
        (3, "A-2", {"cantidad": "12"}),
    ]
    acetaminofen, ibuprofeno, torax, crema, amoxicilina = rows
    assert (acetaminofen.proposed_code, acetaminofen.decision) == ("MED-SBX-0001", "accepted")
    assert acetaminofen.product_name == "Acetaminofén 500 mg Tableta"
    assert "500 mg" in acetaminofen.reason
    assert (ibuprofeno.proposed_code, amoxicilina.proposed_code) == ("MED-SBX-0011", "MED-SBX-0067")
    # a tie is left for a person, with its candidates and the reason no code was filled
    assert (torax.proposed_code, torax.decision) == (None, "undecided")
    assert "tie" in torax.reason
    assert [c.product_code for c in torax.candidates][:3] == ["IMG-SBX-0001", "IMG-SBX-0002", "IMG-SBX-0003"]
    assert (crema.proposed_code, crema.candidates, crema.reason) == (None, [], "no candidate")
    assert job.progress.decisions == {"accepted": 3, "chosen": 0, "not_in_catalogue": 0, "undecided": 2}


async def test_create_job_from_xlsx_reads_header_below_title_and_own_codes(
    database: Database, matchers: inventory.MatcherCache, provider: int
) -> None:
    data = xlsx_inventory(["Hemograma completo", "Losartan 50mg tab"])
    job = await _job(database, matchers, provider, "Inventario Farmacia.xlsx", data)
    assert "sheet 'Farmacia', header on row 2" in job.source
    rows = await _rows(database, provider, job.job_id)
    assert [(r.line, r.name, r.inventory_code, r.proposed_code) for r in rows] == [
        (3, "Hemograma completo", "1001", "LAB-HEMO"),
        (4, "Losartan 50mg tab", "1002", "MED-SBX-0181"),
    ]
    assert rows[0].details == {"Existencias": "3"}


async def test_matching_runs_off_the_event_loop(matchers: inventory.MatcherCache) -> None:
    names = ["ACETAMINOFEN 500MG TAB", "Ibuprofeno 400 mg tableta", "Rx torax", "Losartan 50mg tab"] * 100
    data = ("nombre\n" + "\n".join(names) + "\n").encode()
    await matchers.current()  # the matcher is built once per revision; measure the rows alone
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    matched = await inventory.read_and_match(matchers, "big.csv", data)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    assert len(matched.proposals) == 400
    # on the loop the ticker would not run once until matching ended; in chunks it runs between them
    assert ticks >= len(names) // inventory.MATCH_CHUNK, (ticks, elapsed)


# --- bad files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("inventario.pdf", b"%PDF-1.4", "only CSV (.csv) or Excel (.xlsx) files are read"),
        ("inventario.csv", b"", "the file is empty"),
        ("inventario.csv", b"codigo;cantidad\nA-1;3\n", "has no 'name' column"),
        ("inventario.csv", b"nombre;cantidad\n", "there are no rows below the header"),
        ("inventario.xlsx", b"nombre\nIbuprofeno\n", "this is not an Excel .xlsx workbook"),
        ("inventario.xlsx", b"PK\x03\x04garbage", "cannot read inventario.xlsx as an .xlsx workbook"),
        ("inventario.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "this is not a text (CSV) file"),
        ("../../etc/inventario.csv", b"nombre;cantidad\n;4\n", "inventario.csv: line 2: the row has no name"),
    ],
)
def test_read_upload_bad_file_is_refused_with_a_clear_message(name: str, data: bytes, message: str) -> None:
    with pytest.raises(inventory.UploadRefused) as caught:
        inventory.read_upload(name, data)
    assert message in str(caught.value)
    assert "pp-upload" not in str(caught.value)  # never the server's temporary path


def test_read_upload_larger_than_the_limit_is_refused() -> None:
    data = b"nombre\n" + b"x" * inventory.MAX_UPLOAD_BYTES
    with pytest.raises(inventory.UploadRefused, match="larger than 10 MB"):
        inventory.read_upload("grande.csv", data)


def test_read_upload_with_too_many_rows_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inventory, "MAX_ROWS", 3)
    with pytest.raises(inventory.UploadRefused, match="4 rows; at most 3 rows"):
        inventory.read_upload("inv.csv", b"nombre\na\nb\nc\nd\n")


def test_read_upload_keeps_only_the_last_part_of_the_file_name() -> None:
    upload = inventory.read_upload("C:\\Users\\ana\\<inv>.csv", b"nombre\nIbuprofeno\n")
    assert upload.file_name == "_inv_.csv"


# --- decisions ------------------------------------------------------------------------------------


async def test_decide_records_candidate_not_in_catalogue_and_undecided(
    database: Database, matchers: inventory.MatcherCache, provider: int
) -> None:
    job = await _job(database, matchers, provider, "inventario.csv", CSV_INVENTORY)
    async with database.transaction(write=True) as conn:
        rows = await service.decide(
            conn,
            provider_id=provider,
            job_id=job.job_id,
            choices={0: "med-sbx-0007", 2: "IMG-SBX-0002", 3: NOT_IN_CATALOGUE, 4: ""},
        )
    assert [(r.position, r.decision, r.product_code, r.choice) for r in rows] == [
        (0, "chosen", "MED-SBX-0007", "MED-SBX-0007"),
        (2, "chosen", "IMG-SBX-0002", "IMG-SBX-0002"),
        (3, "not_in_catalogue", None, NOT_IN_CATALOGUE),
        (4, "undecided", None, ""),
    ]
    assert rows[1].product_name == "Radiografía de tórax (2 proyecciones)"
    await _decide(database, provider, job.job_id, {0: "MED-SBX-0001"})  # back to the proposal
    reread = await _rows(database, provider, job.job_id)
    assert (reread[0].decision, reread[0].product_code) == ("accepted", "MED-SBX-0001")


async def test_decide_code_outside_the_candidates_is_refused(
    database: Database, matchers: inventory.MatcherCache, provider: int
) -> None:
    job = await _job(database, matchers, provider, "inventario.csv", CSV_INVENTORY)
    with pytest.raises(ValidationFailed) as caught:
        await _decide(database, provider, job.job_id, {1: "LAB-HEMO"})
    assert caught.value.additional_information == {
        "errors": [{"field": "row_1", "message": "'LAB-HEMO' is not one of the row's candidates"}]
    }
    with pytest.raises(ValidationFailed):
        await _decide(database, provider, job.job_id, {99: ""})
    assert (await _rows(database, provider, job.job_id))[1].decision == "accepted"


# --- registration ---------------------------------------------------------------------------------


async def test_registration_in_batches_resumes_after_an_interruption(
    database: Database, matchers: inventory.MatcherCache, provider: int
) -> None:
    names = [
        "ACETAMINOFEN 500MG TAB",
        "Ibuprofeno 400 mg tableta",
        "amoxicilina 500 mg capsula",
        "Losartan 50mg tab",
        "Hemograma completo",
    ]
    job = await _job(database, matchers, provider, "inv.xlsx", xlsx_inventory(names))
    async with database.transaction(write=True) as conn:
        assert await service.start_registration(conn, provider_id=provider, job_id=job.job_id, token="first")
        # a second start while the first run holds a live lease is refused
        assert not await service.start_registration(conn, provider_id=provider, job_id=job.job_id, token="x")
    async with database.transaction(write=True) as conn:
        step = await service.register_next_batch(
            conn, provider_id=provider, job_id=job.job_id, token="first", size=2
        )
    assert (step.processed, step.counts) == (2, {"registered": 2})
    first = await _rows(database, provider, job.job_id)
    # the process dies here; its lease lapses
    async with database.transaction(write=True) as conn:
        await conn.execute(update(OnboardingJob).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        progress = (await service.get_job(conn, provider_id=provider, job_id=job.job_id)).progress
    assert (progress.to_register, progress.settled, progress.interrupted, progress.running) == (
        5,
        2,
        True,
        False,
    )
    async with database.transaction(write=True) as conn:
        assert await service.start_registration(conn, provider_id=provider, job_id=job.job_id, token="second")
    done = await runner.run_registration(
        database, provider_id=provider, job_id=job.job_id, token="second", batch_size=2
    )
    assert (done.processed, done.finished) == (3, True)
    rows = await _rows(database, provider, job.job_id)
    assert [r.outcome for r in rows] == ["registered"] * 5
    # the rows of the first batch kept their first registration; nothing was sent twice
    assert [r.registered_at for r in rows[:2]] == [r.registered_at for r in first[:2]]
    assert await _registered_codes(database, provider) == {r.product_code for r in rows}
    async with database.transaction(write=True) as conn:
        job = await service.get_job(conn, provider_id=provider, job_id=job.job_id)
        # the run that lost its lease stops without writing
        lost = await service.register_next_batch(conn, provider_id=provider, job_id=job.job_id, token="first")
    assert (job.status, job.progress.percent, job.progress.outcomes["registered"]) == ("registered", 100, 5)
    assert lost.lost


async def test_registration_follows_the_api_rules_and_rerun_retries_only_refusals(
    database: Database, matchers: inventory.MatcherCache, provider: int
) -> None:
    job = await _job(database, matchers, provider, "inventario.csv", CSV_INVENTORY)
    await _decide(database, provider, job.job_id, {2: "IMG-SBX-0002", 3: NOT_IN_CATALOGUE})
    async with database.transaction(write=True) as conn:
        await registry_service.register(conn, provider_id=provider, code="MED-SBX-0011")
        await conn.execute(
            update(CatalogueProduct)
            .where(CatalogueProduct.product_code == "MED-SBX-0067")
            .values(status="INACTIVE")
        )
    registrations = runner.Registrations(database, batch_size=2)
    assert await registrations.start(provider_id=provider, job_id=job.job_id)
    await registrations.wait()
    rows = await _rows(database, provider, job.job_id)
    assert [(r.outcome, r.error_code) for r in rows] == [
        ("registered", None),
        ("already_registered", "071-102"),
        ("registered", None),
        (None, None),
        ("not_in_catalogue", "071-101"),
    ]
    assert [report.outcome(r) for r in rows] == [
        "registered",
        "already_registered",
        "registered",
        "skipped",
        "not_in_catalogue",
    ]
    async with database.transaction(write=True) as conn:
        await conn.execute(
            update(CatalogueProduct)
            .where(CatalogueProduct.product_code == "MED-SBX-0067")
            .values(status="ACTIVE")
        )
    assert await registrations.start(provider_id=provider, job_id=job.job_id, rerun=True)
    await registrations.wait()
    again = await _rows(database, provider, job.job_id)
    assert again[4].outcome == "registered"
    assert [r.registered_at for r in again[:4]] == [r.registered_at for r in rows[:4]]


async def test_changed_decision_after_registration_registers_the_new_code(
    database: Database, matchers: inventory.MatcherCache, provider: int
) -> None:
    job = await _job(database, matchers, provider, "inventario.csv", CSV_INVENTORY)
    registrations = runner.Registrations(database)
    assert await registrations.start(provider_id=provider, job_id=job.job_id)
    await registrations.wait()
    await _decide(database, provider, job.job_id, {0: "MED-SBX-0007"})
    async with database.transaction() as conn:
        pending = (await service.get_job(conn, provider_id=provider, job_id=job.job_id)).progress
    assert (pending.to_register, pending.settled) == (3, 2)
    assert await registrations.start(provider_id=provider, job_id=job.job_id)
    await registrations.wait()
    codes = await _registered_codes(database, provider)
    assert {"MED-SBX-0001", "MED-SBX-0007", "MED-SBX-0011", "MED-SBX-0067"} <= codes


# --- isolation ------------------------------------------------------------------------------------


async def test_job_of_another_provider_is_not_found(
    database: Database, matchers: inventory.MatcherCache, provider: int, other: int
) -> None:
    job = await _job(database, matchers, provider, "inventario.csv", CSV_INVENTORY)
    async with database.transaction(write=True) as conn:
        assert await service.list_jobs(conn, provider_id=other) == []
        assert [j.job_id for j in await service.list_jobs(conn, provider_id=provider)] == [job.job_id]
        calls = [
            service.get_job(conn, provider_id=other, job_id=job.job_id),
            service.all_rows(conn, provider_id=other, job_id=job.job_id),
            service.list_rows(conn, provider_id=other, job_id=job.job_id, page=0, size=10),
            service.decide(conn, provider_id=other, job_id=job.job_id, choices={0: NOT_IN_CATALOGUE}),
            service.start_registration(conn, provider_id=other, job_id=job.job_id, token="t"),
            service.register_next_batch(conn, provider_id=other, job_id=job.job_id, token="t"),
        ]
        for call in calls:
            with pytest.raises(RecordNotFound):
                await call
    assert await _registered_codes(database, other) == set()
    assert (await _rows(database, provider, job.job_id))[0].decision == "accepted"


# --- the report -----------------------------------------------------------------------------------


async def test_report_has_one_excel_safe_line_per_row(
    database: Database, matchers: inventory.MatcherCache, provider: int
) -> None:
    data = CSV_INVENTORY + b'=A-6;=HYPERLINK("http://x");1\n'
    job = await _job(database, matchers, provider, "inventario.csv", data)
    await _decide(database, provider, job.job_id, {2: "IMG-SBX-0001", 3: NOT_IN_CATALOGUE})
    registrations = runner.Registrations(database)
    assert await registrations.start(provider_id=provider, job_id=job.job_id)
    await registrations.wait()
    body = report.report_csv(await _rows(database, provider, job.job_id))
    assert body.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert lines[0] == list(report.COLUMNS)
    table = [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    assert [(r["line"], r["decision"], r["product_code"], r["outcome"]) for r in table] == [
        ("2", "accepted", "MED-SBX-0001", "registered"),
        ("3", "accepted", "MED-SBX-0011", "registered"),
        ("4", "chosen", "IMG-SBX-0001", "registered"),
        ("5", "not_in_catalogue", "", "skipped"),
        ("6", "accepted", "MED-SBX-0067", "registered"),
        ("7", "undecided", "", "skipped"),
    ]
    assert table[0]["name"] == "ACETAMINOFEN 500MG TAB X 100"
    assert table[0]["product_name"] == "Acetaminofén 500 mg Tableta"
    assert table[0]["inventory_code"] == "A-1"
    assert table[0]["registered_at"].endswith("Z")
    assert table[2]["reason"].startswith("chosen by the reviewer (score")
    assert table[3]["reason"] == "marked not in the catalogue by the reviewer"
    assert (table[5]["name"], table[5]["inventory_code"]) == ('\'=HYPERLINK("http://x")', "'=A-6")
    assert table[5]["reason"] == "no decision (matcher: no candidate)"


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_safe_cell_quotes_what_excel_would_run(value: str) -> None:
    assert report.safe_cell(value) == "'" + value


def test_safe_cell_leaves_ordinary_text() -> None:
    assert report.safe_cell("Ibuprofeno 400 mg") == "Ibuprofeno 400 mg"
