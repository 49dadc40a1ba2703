"""The bare FastAPI app the edge benchmark compares with: one trivial endpoint, nothing else.

``python -m uvicorn bare_app:app --app-dir bench`` serves it; ``bench/edge.py`` runs it with the
same uvicorn options (httptools, uvloop, no access log) and worker count as the service, so that
"% of a bare FastAPI app" is the share of a request's cost that the service's edge leaves.
"""

from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Say that the process is up, as the service's ``/healthz`` does."""
    return {"status": "ok"}
