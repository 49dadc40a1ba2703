"""Incorporar inventario / Onboard an inventory: upload, review the proposals, register in batches, report.

The pages under ``/portal/onboarding``. Reading and matching an upload run off the event loop; a
registration runs in the background of the process (``runner.Registrations``) and the progress
page follows it: ``static/onboarding.js`` polls ``progress.json`` and without script the page has a
button that reloads it. Every job belongs to the signed-in user's provider: another provider's job
id is a 404 page, whatever the action.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData, UploadFile

from provider_products.errors import RecordNotFound, ValidationFailed
from provider_products.portal import web
from provider_products.portal.onboarding import inventory, report, runner, service
from provider_products.portal.onboarding.schemas import NOT_IN_CATALOGUE, JobRead
from provider_products.runtime import database

router = APIRouter()
PAGE_SIZE = 50
JobId = Annotated[str, Path(max_length=40, pattern=r"^job_[0-9a-f]{1,36}$")]
_ROW_FIELD = "row-"
_MAX_DECISIONS = service.MAX_PAGE_SIZE


def _matchers(request: Request) -> inventory.MatcherCache:
    """The process's matcher cache (one per portal application, made on first use)."""
    state = request.app.state
    if getattr(state, "onboarding_matchers", None) is None:
        state.onboarding_matchers = inventory.MatcherCache(database(request))
    found: inventory.MatcherCache = state.onboarding_matchers
    return found


def registrations(request: Request) -> runner.Registrations:
    """The process's registration runs (one set per portal application, made on first use)."""
    state = request.app.state
    if getattr(state, "onboarding_registrations", None) is None:
        state.onboarding_registrations = runner.Registrations(database(request))
    found: runner.Registrations = state.onboarding_registrations
    return found


def _not_found(request: Request) -> HTMLResponse:
    return web.render(request, "error.html", {"status": 404, "reason": "not_found"}, status_code=404)


def _job_path(job_id: str, tail: str = "") -> str:
    return f"{web.PREFIX}/onboarding/{quote(job_id, safe='')}{tail}"


async def _jobs_page(
    request: Request,
    user: web.PortalUser,
    *,
    error: str | None = None,
    status_code: int = 200,
    # error: None, "" (no file chosen) or the reader's message (English, naming the line or cell)
) -> HTMLResponse:
    async with web.transaction(request) as conn:
        jobs = await service.list_jobs(conn, provider_id=user.provider_id)
    context = {
        "jobs": jobs,
        "error": error,
        "max_megabytes": inventory.MAX_UPLOAD_BYTES // 2**20,
        "max_rows": inventory.MAX_ROWS,
        "job_path": _job_path,
    }
    return web.render(request, "onboarding/jobs.html", context, status_code=status_code)


@router.get("/onboarding", include_in_schema=False)
async def jobs(request: Request, user: web.CurrentUser) -> HTMLResponse:
    """Show the upload form and the provider's onboarding jobs, to start one or resume one."""
    return await _jobs_page(request, user)


async def _read_file(form: FormData) -> tuple[str, bytes] | None:
    upload = form.get("inventory")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(inventory.MAX_UPLOAD_BYTES + 1)
    return upload.filename, data


@router.post("/onboarding", include_in_schema=False)
async def upload(request: Request, user: web.CurrentUser, form: web.CsrfChecked) -> Response:
    """Read and match an uploaded inventory, save it as a job and open its review."""
    found = await _read_file(form)
    if found is None:
        return await _jobs_page(request, user, error="", status_code=422)
    try:
        matched = await inventory.read_and_match(_matchers(request), *found)
    except inventory.UploadRefused as exc:
        return await _jobs_page(request, user, error=str(exc), status_code=422)
    async with web.transaction(request, write=True) as conn:
        job = await service.create_job(
            conn,
            provider_id=user.provider_id,
            upload=matched.upload,
            proposals=matched.proposals,
            catalogue_revision=matched.catalogue_revision,
            created_by=user.email,
        )
    return web.redirect(_job_path(job.job_id))


@router.get("/onboarding/{job_id}", include_in_schema=False)
async def review(
    request: Request,
    user: web.CurrentUser,
    job_id: JobId,
    page: Annotated[int, Query(ge=0, le=1000)] = 0,
    saved: Annotated[int, Query(ge=0, le=1)] = 0,
) -> HTMLResponse:
    """Show a page of the job's rows: each proposal and its reason, the candidates, the decision."""
    try:
        async with web.transaction(request) as conn:
            job = await service.get_job(conn, provider_id=user.provider_id, job_id=job_id)
            rows = await service.list_rows(
                conn, provider_id=user.provider_id, job_id=job_id, page=page, size=PAGE_SIZE
            )
    except RecordNotFound:
        return _not_found(request)
    context = {
        "job": job,
        "rows": rows,
        "saved": bool(saved),
        "not_in_catalogue": NOT_IN_CATALOGUE,
        "job_path": _job_path,
        "page_url": lambda n: _job_path(job_id, f"?page={n}"),
    }
    return web.render(request, "onboarding/review.html", context)


def _choices(form: FormData) -> dict[int, str]:
    """The form's ``row-<position>`` choices; raise ``ValidationFailed`` for a malformed field."""
    choices: dict[int, str] = {}
    for key, value in form.multi_items():
        if not key.startswith(_ROW_FIELD):
            continue
        position = key[len(_ROW_FIELD) :]
        if not position.isdigit() or not isinstance(value, str) or len(value) > 64:
            raise ValidationFailed([{"field": key, "message": "not a row's choice"}])
        choices[int(position)] = value
    if len(choices) > _MAX_DECISIONS:
        raise ValidationFailed([{"field": "rows", "message": f"at most {_MAX_DECISIONS} rows at once"}])
    return choices


def _page_of(form: FormData) -> int:
    value = form.get("page")
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 6 else 0


async def _save_choices(request: Request, user: web.PortalUser, job_id: str, form: FormData) -> None:
    choices = _choices(form)
    async with web.transaction(request, write=True) as conn:
        if choices:
            await service.decide(conn, provider_id=user.provider_id, job_id=job_id, choices=choices)
        else:  # still check the job is the provider's
            await service.get_job(conn, provider_id=user.provider_id, job_id=job_id)


def _bad_form(request: Request) -> HTMLResponse:
    return web.render(request, "error.html", {"status": 400, "reason": "bad_request"}, status_code=400)


@router.post("/onboarding/{job_id}/decisions", include_in_schema=False)
async def decide(request: Request, user: web.CurrentUser, form: web.CsrfChecked, job_id: JobId) -> Response:
    """Save the reviewer's choices for the rows of one page."""
    try:
        await _save_choices(request, user, job_id, form)
    except RecordNotFound:
        return _not_found(request)
    except ValidationFailed:
        return _bad_form(request)
    return web.redirect(_job_path(job_id, f"?page={_page_of(form)}&saved=1"))


@router.post("/onboarding/{job_id}/register", include_in_schema=False)
async def register(request: Request, user: web.CurrentUser, form: web.CsrfChecked, job_id: JobId) -> Response:
    """Save the choices sent with it, then register the accepted rows in the background, batch by batch."""
    try:
        await _save_choices(request, user, job_id, form)
        await registrations(request).start(
            provider_id=user.provider_id, job_id=job_id, rerun=form.get("rerun") == "1"
        )
    except RecordNotFound:
        return _not_found(request)
    except ValidationFailed:
        return _bad_form(request)
    # a run already going (another tab) is simply followed
    return web.redirect(_job_path(job_id, "/progress"))


async def _job(request: Request, user: web.PortalUser, job_id: str) -> JobRead | None:
    try:
        async with web.transaction(request) as conn:
            return await service.get_job(conn, provider_id=user.provider_id, job_id=job_id)
    except RecordNotFound:
        return None


@router.get("/onboarding/{job_id}/progress", include_in_schema=False)
async def progress(request: Request, user: web.CurrentUser, job_id: JobId) -> HTMLResponse:
    """Show how far the job's registration is; the page follows it (or reload it without script)."""
    job = await _job(request, user, job_id)
    if job is None:
        return _not_found(request)
    return web.render(request, "onboarding/progress.html", {"job": job, "job_path": _job_path})


def progress_body(job: JobRead) -> dict[str, Any]:
    """The progress of a job as the page's script reads it."""
    p = job.progress
    return {
        "job_id": job.job_id,
        "status": job.status,
        "to_register": p.to_register,
        "settled": p.settled,
        "pending": p.pending,
        "percent": p.percent,
        "outcomes": p.outcomes,
        "running": p.running,
        "interrupted": p.interrupted,
        "finished": job.status == "registered" and not p.running and p.pending == 0,
    }


@router.get("/onboarding/{job_id}/progress.json", include_in_schema=False)
async def progress_json(request: Request, user: web.CurrentUser, job_id: JobId) -> JSONResponse:
    """Answer the job's progress as JSON, for the progress page's script."""
    job = await _job(request, user, job_id)
    if job is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return JSONResponse(progress_body(job))


@router.get("/onboarding/{job_id}/report.csv", include_in_schema=False)
async def report_csv(request: Request, user: web.CurrentUser, job_id: JobId) -> Response:
    """Download the job's report: one line per inventory row, its decision and its outcome."""
    try:
        async with web.transaction(request) as conn:
            job = await service.get_job(conn, provider_id=user.provider_id, job_id=job_id)
            rows = await service.all_rows(conn, provider_id=user.provider_id, job_id=job_id)
    except RecordNotFound:
        return _not_found(request)
    stem = job.file_name.rsplit(".", 1)[0] or "inventario"
    name = f"{stem}.report.csv"
    disposition = f"attachment; filename=\"{quote(name)}\"; filename*=UTF-8''{quote(name)}"
    return Response(
        report.report_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )
