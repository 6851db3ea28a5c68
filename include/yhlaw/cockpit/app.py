"""The cockpit's routes. Each page: parse and check the request's parameters against the marts,
run its queries (``queries``), build what it shows (``pages``), render a template.

Every response carries ``Server-Timing`` (``db``: time in PostgreSQL, ``total``: in the server),
so page speed is measured the way the benchmarks read it.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from yhlaw import paths
from yhlaw.cockpit import drilldown, pages, periods, queries, status
from yhlaw.cockpit.db import Mart, db_seconds
from yhlaw.mart_views import column_labels, entity_for_table, listed_columns
from yhlaw.reference import DISTRICT_CODE

COCKPIT_DIR = paths.INCLUDE_DIR / "cockpit"
TEMPLATES = Jinja2Templates(directory=str(COCKPIT_DIR / "templates"))
TEMPLATES.env.filters["cell"] = pages.cell
TEMPLATES.env.globals.update(fmt=status.fmt, period_label=periods.label, grain_labels=periods.GRAIN_LABELS,
                             status_labels=status.STATUS_LABELS, dimension_label=pages.dimension_label,
                             district=DISTRICT_CODE, source_title=pages.source_title, reason_title=pages.reason_title)


class Context:
    """The request's checked parameters: grain, period, 镇街 (defaults: the latest month, 全区)."""

    def __init__(self, mart: Mart, request: Request):
        q = request.query_params
        self.grain = q.get("grain", "month")
        if self.grain not in periods.GRAINS:
            raise HTTPException(400, "grain must be month, quarter or year")
        self.periods = queries.periods(mart, self.grain)
        self.start = _period(q.get("period"), self.periods)
        self.towns = queries.towns(mart)
        self.town = q.get("town", DISTRICT_CODE)
        if self.town != DISTRICT_CODE and self.town not in {t["town_code"] for t in self.towns}:
            raise HTTPException(404, "unknown 镇街")
        self.town_name = next((t["town_name"] for t in self.towns if t["town_code"] == self.town), "全区")

    def vars(self) -> dict:
        return {"grain": self.grain, "start": self.start, "periods": self.periods, "towns": self.towns,
                "town": self.town, "town_name": self.town_name}


def _period(text: str | None, available: list[date]) -> date | None:
    if text is None:
        return available[0] if available else None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, "period must be a date (YYYY-MM-DD)") from None


def _indicator(mart: Mart, code: str) -> dict:
    row = queries.indicator(mart, code)
    if row is None:
        raise HTTPException(404, "unknown indicator")
    return row


def create_app(mart: Mart, *, echarts: Path, reports_dir: Path) -> FastAPI:
    app = FastAPI(title="余杭区法治驾驶舱", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(COCKPIT_DIR / "static")), name="static")
    _timing(app)
    _errors(app)
    _vendor(app, echarts)
    _overview_routes(app, mart)
    _indicator_routes(app, mart)
    _quality_routes(app, mart, reports_dir)
    return app


def _timing(app: FastAPI) -> None:
    @app.middleware("http")
    async def server_timing(request: Request, call_next):
        total = [0.0]
        token = db_seconds.set(total)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            db_seconds.reset(token)
        elapsed = time.perf_counter() - started
        response.headers["Server-Timing"] = f"db;dur={total[0] * 1000:.1f}, total;dur={elapsed * 1000:.1f}"
        return response


def _errors(app: FastAPI) -> None:
    """Errors as a page of the cockpit (Chinese, with the way back), not as JSON."""
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return TEMPLATES.TemplateResponse(request, "error.html", {"status": exc.status_code, "message": exc.detail},
                                          status_code=exc.status_code)


def _vendor(app: FastAPI, echarts: Path) -> None:
    @app.get("/vendor/echarts.min.js")
    def echarts_js():
        if not echarts.exists():
            raise HTTPException(503, "ECharts is not installed: run `make setup` (npm ci in include/cockpit)")
        return FileResponse(echarts, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get("/healthz")
    def healthz():
        return JSONResponse({"ok": True, "echarts": echarts.exists()})


def _page(request: Request, template: str, **context) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, context)


def _overview_routes(app: FastAPI, mart: Mart) -> None:
    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request):
        ctx = Context(mart, request)
        cover = pages.coverage(queries.period_status(mart))
        rows = queries.overview(mart, ctx.grain, ctx.start, ctx.town) if ctx.start else []
        cards = [pages.card(r, ctx.grain, ctx.start, cover) for r in rows]
        ytd = queries.ytd_at(mart, ctx.start, ctx.town) if ctx.start and ctx.grain == "month" else {}
        return _page(request, "overview.html", **ctx.vars(), cards=cards, counts=pages.status_counts(cards),
                     ytd=ytd, active="overview")

    @app.get("/towns", response_class=HTMLResponse)
    def towns(request: Request):
        ctx = Context(mart, request)
        catalog = [c for c in queries.catalog(mart) if "town" in c["levels"] and ctx.grain in c["grains"]]
        code = request.query_params.get("code") or (catalog[0]["indicator_code"] if catalog else None)
        chosen = next((c for c in catalog if c["indicator_code"] == code), None)
        if code and chosen is None:
            raise HTTPException(404, "unknown indicator or not published per 镇街")
        ranking = queries.ranking(mart, code, ctx.grain, ctx.start) if chosen and ctx.start else []
        return _page(request, "towns.html", **ctx.vars(), catalog=catalog, chosen=chosen, ranking=ranking,
                     tiles=pages.tiles(ranking, chosen["unit"]) if chosen else [], active="towns")


def _indicator_routes(app: FastAPI, mart: Mart) -> None:
    @app.get("/indicator/{code}", response_class=HTMLResponse)
    def indicator(request: Request, code: str):
        ctx = Context(mart, request)
        ind = _indicator(mart, code)
        cover = pages.coverage(queries.period_status(mart))
        series = pages.trend_series(queries.trend(mart, code, ctx.town), queries.ytd(mart, code, ctx.town),
                                    code, cover)
        groups = pages.breakdown_groups(queries.breakdowns(mart, code, ctx.grain, ctx.start, ctx.town)) \
            if ctx.start else {}
        defn = drilldown.indicator(code)
        return _page(request, "indicator.html", **ctx.vars(), ind=ind, series=series, groups=groups,
                     revisions=queries.revisions(mart, code, ctx.town),
                     listable=defn is not None and drilldown.listable(defn), active="indicator")

    @app.get("/cases/{code}", response_class=HTMLResponse)
    def cases(request: Request, code: str):
        ctx = Context(mart, request)
        ind = _indicator(mart, code)
        defn = drilldown.indicator(code)
        if defn is None or not drilldown.listable(defn) or ctx.start is None:
            raise HTTPException(404, "this indicator has no case list")
        entity = entity_for_table((defn.denominator or defn.numerator).table)
        columns = listed_columns(entity)
        found = drilldown.listing(mart, defn, ctx.grain, ctx.start, ctx.town, columns)
        names = {t["town_code"]: t["town_name"] for t in ctx.towns}
        towns_cols = {f.name for f in entity.fields if f.type == "town"}
        return _page(request, "cases.html", **ctx.vars(), ind=ind, defn=defn, listing=found,
                     labels=column_labels(entity), entity=entity, town_names=names, town_columns=towns_cols,
                     active="indicator")


def _quality_routes(app: FastAPI, mart: Mart, reports_dir: Path) -> None:
    @app.get("/quality", response_class=HTMLResponse)
    def quality(request: Request):
        return _page(request, "quality.html", freshness=queries.freshness(mart),
                     quarantine=pages.quarantine_groups(queries.quarantine_summary(mart)),
                     stale=queries.stale_rows(mart),
                     towns=queries.towns(mart), active="quality")

    @app.get("/reports", response_class=HTMLResponse)
    def reports(request: Request):
        return _page(request, "reports.html", reports=queries.reports(mart), active="reports")

    @app.get("/reports/{month}.{kind}")
    def report_file(month: str, kind: str):
        try:
            found = queries.report_files(mart, date.fromisoformat(month + "-01"))
        except ValueError:
            raise HTTPException(400, "month must be YYYY-MM") from None
        if found is None or kind not in ("pdf", "html"):
            raise HTTPException(404, "no such report")
        path = Path(found[f"{kind}_path"])
        if not path.resolve().is_relative_to(reports_dir.resolve()) or not path.exists():
            raise HTTPException(404, "report file missing")
        return FileResponse(path, media_type="application/pdf" if kind == "pdf" else "text/html")
