"""The benchmark's own parts: the generator's shape, the query counter, the load driver, the report."""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from django.db.models import Count
from django.http import HttpResponse
from django.test import RequestFactory

from bench.endpoints import ENDPOINTS, Endpoint, Samples, endpoint_by_name
from bench.generate import CatalogShape, generate_catalog
from bench.load import run_python
from bench.middleware import QueryCountMiddleware
from bench.report import README_END, README_START, evaluate, render_markdown, update_readme
from bench.run import measure_endpoint
from catalog import models


@pytest.mark.django_db
def test_generator_writes_the_requested_shape():
    shape = CatalogShape.for_datasets(6)

    result = generate_catalog(shape)

    assert (shape.volumes, shape.crops, shape.views) == (120, 12, 8)
    assert models.Dataset.objects.count() == 6
    assert models.Volume.objects.count() == 120
    assert models.Crop.objects.count() == 12
    assert models.LabelClass.objects.count() == 80
    assert models.CuratedView.objects.count() == 8
    assert result.counts["catalog.Volume"] == 120
    assert set(models.Volume.objects.values_list("dataset_id", flat=True)) == set(
        models.Dataset.objects.values_list("pk", flat=True)
    )
    class_counts = models.Crop.objects.annotate(n=Count("label_classes")).values_list("n", flat=True)
    assert all(3 <= n <= 30 for n in class_counts)
    assert models.Dataset.objects.filter(organism__isnull=True).count() == 0
    assert models.Dataset.objects.filter(description__icontains="mitochondria").exists()
    assert models.LabelClass.objects.get(name="mito").members.count() == 3
    # Explicit keys must leave the sequences usable for the ORM's own inserts.
    assert models.Organism.objects.create(name="Extra organism", slug="extra-organism").pk > 12


@pytest.mark.django_db
def test_generator_replaces_the_previous_catalog():
    generate_catalog(CatalogShape.for_datasets(4, seed=1))
    generate_catalog(CatalogShape.for_datasets(3, seed=2))

    assert models.Dataset.objects.count() == 3
    assert models.Volume.objects.count() == 60


def test_shape_rejects_an_empty_catalog():
    with pytest.raises(ValueError, match="at least 1"):
        CatalogShape.for_datasets(0)


@pytest.mark.django_db
def test_query_count_middleware_counts_the_requests_queries():
    def view(request):
        models.Dataset.objects.count()
        models.Organism.objects.count()
        return HttpResponse("ok")

    response = QueryCountMiddleware(view)(RequestFactory().get("/"))

    assert response["X-SQL-Queries"] == "2"
    assert float(response["X-SQL-Time"]) >= 0
    assert float(response["X-App-Time"]) >= float(response["X-SQL-Time"])


def test_endpoint_paths_rotate_over_samples():
    samples = Samples("mus-musculus", "fib-sem", "mitochondria", ["a-1", "b-2"], [5, 9])

    assert endpoint_by_name("dataset-page").paths(samples) == ["/datasets/a-1/", "/datasets/b-2/"]
    assert endpoint_by_name("state-crop").paths(samples) == ["/api/states/crops/5/", "/api/states/crops/9/"]
    assert endpoint_by_name("api-list").paths(samples) == ["/api/datasets/?organism=mus-musculus&modality=fib-sem"]
    assert endpoint_by_name("state-304").conditional
    with pytest.raises(KeyError):
        endpoint_by_name("nope")


class _Handler(BaseHTTPRequestHandler):
    """A stand-in portal: /missing/ is a 404, a matching If-None-Match a 304, else JSON with SQL headers."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({"path": self.path}).encode()
        if self.path.startswith("/missing/"):
            status = 404
        elif self.headers.get("If-None-Match") == '"v1"':
            status = 304
        else:
            status = 200
        self.send_response(status)
        self.send_header("ETag", '"v1"')
        self.send_header("X-SQL-Queries", "2")
        self.send_header("X-SQL-Time", "0.5")
        self.send_header("X-App-Time", "1.5")
        self.send_header("Content-Length", "0" if status == 304 else str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_python_load_driver_measures_a_loopback_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        port = httpd.server_address[1]
        result = run_python("127.0.0.1", port, ["/a", "/b"], connections=2, seconds=0.5)
        revalidated = run_python("127.0.0.1", port, ["/a"], connections=1, seconds=0.3, etags=['"v1"'])
    finally:
        httpd.shutdown()
        httpd.server_close()

    assert result.requests > 0
    assert result.errors == 0
    assert result.rps > 0
    assert 0 < result.p50_ms <= result.p95_ms <= result.p99_ms <= result.max_ms
    assert revalidated.requests > 0
    assert revalidated.errors == 0


def _load(p50: float, rps: float) -> dict:
    return {"p50_ms": p50, "p95_ms": p50 * 2, "p99_ms": p50 * 3, "rps": rps, "requests": 100, "errors": 0}


def _results() -> dict:
    def run(scale: float, state_queries: int) -> dict:
        endpoints = {
            "floor": {"status": "ok", "c1": _load(0.5, 2000), "c16": _load(1, 2000), "queries": {"min": 0, "max": 0}},
            "api-list": {
                "status": "ok",
                "c1": _load(10 * scale, 900),
                "c16": _load(20, 900),
                "queries": {"min": 3, "max": 3},
                "sql_ms": 2.0,
                "app_ms": 8.0,
            },
            "state-dataset": {
                "status": "ok",
                "c1": _load(30 * scale, 100),
                "c16": _load(60, 100),
                "queries": {"min": state_queries, "max": state_queries},
                "sql_ms": 20.0,
                "app_ms": 25.0,
            },
            "api-facets": {"status": "not available", "detail": "404"},
        }
        return {
            "endpoints": endpoints,
            "workers": [{"VmHWM": 120.0}, {"VmHWM": 130.0}],
            "generation": {"shape": {"datasets": 10}, "seconds": 1.0, "phases": {}},
            "page_size_probes": {},
        }

    return {"meta": {"tool": "wrk"}, "runs": {"1000": run(1.0, 5), "10000": run(1.2, 12)}}


def test_report_judges_each_target_and_names_the_limit():
    results = _results()

    summary = evaluate(results)

    api = {c["check"]: c for c in summary["api-list"]["checks"]}
    assert api["p50"]["pass"]
    assert api["queries"]["pass"]
    assert api["throughput"]["pass"]
    assert api["scaling"]["measured"] == "1.20x"
    state = {c["check"]: c for c in summary["state-dataset"]["checks"]}
    assert not state["p50"]["pass"]
    assert "SQL" in state["p50"]["limit"]
    assert not state["queries"]["pass"]
    assert "5 / 12" in state["queries"]["measured"]
    assert not state["throughput"]["pass"]
    assert summary["api-facets"]["status"] == "not available"


def test_report_renders_the_table_and_the_misses():
    markdown = render_markdown(_results())

    assert "| Endpoint |" in markdown
    assert "| Floor: bare Django JSON view |" in markdown
    api_row = next(line for line in markdown.splitlines() if line.startswith("| API datasets, organism"))
    assert "pass" in api_row
    assert "3 → 3" in api_row
    assert "**not available** (404)" in markdown
    assert "State JSON, dataset" in markdown.split("Targets missed")[1]
    assert "130 MB" in markdown


def test_report_flags_a_worker_over_the_memory_budget():
    results = copy.deepcopy(_results())
    results["runs"]["10000"]["workers"] = [{"VmHWM": 250.0}]

    assert "250 MB (target < 200 MB)" in render_markdown(results)


def test_readme_block_is_replaced_and_nothing_else(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Portal\n\nintro\n\n{README_START}\nold table\n{README_END}\n\n## After\ntext\n")

    assert update_readme(readme, "| new | table |")

    text = readme.read_text()
    assert "old table" not in text
    assert f"{README_START}\n| new | table |\n{README_END}" in text
    assert text.startswith("# Portal\n\nintro\n\n")
    assert text.endswith("\n\n## After\ntext\n")


def test_readme_without_markers_is_left_alone(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Portal\n")

    assert not update_readme(readme, "| table |")
    assert readme.read_text() == "# Portal\n"


def test_every_endpoint_has_a_unique_name():
    names = [e.name for e in ENDPOINTS]
    assert len(names) == len(set(names))


@pytest.fixture
def stand_in_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(host="127.0.0.1", port=httpd.server_address[1], log_tail=lambda lines=40: "")
    httpd.shutdown()
    httpd.server_close()


def _endpoint(path: str, *, conditional: bool = False) -> Endpoint:
    return Endpoint("probe", "Probe", "json", lambda samples: [path], p50_ms=25, conditional=conditional)


def test_an_endpoint_answering_404_is_reported_not_available(stand_in_server):
    samples = Samples("o", "m", "q", ["a"], [1])

    result = measure_endpoint(stand_in_server, _endpoint("/missing/"), samples, seconds=0.2, tool="python")

    assert result["status"] == "not available"
    assert result["detail"] == "404"
    assert "c1" not in result


def test_an_endpoint_is_probed_and_loaded_at_both_concurrencies(stand_in_server):
    samples = Samples("o", "m", "q", ["a"], [1])

    result = measure_endpoint(stand_in_server, _endpoint("/api/x/"), samples, seconds=0.3, tool="python")
    revalidated = measure_endpoint(
        stand_in_server, _endpoint("/api/x/", conditional=True), samples, seconds=0.3, tool="python"
    )

    assert result["status"] == "ok"
    assert result["queries"] == {"min": 2, "max": 2}
    assert (result["sql_ms"], result["app_ms"]) == (0.5, 1.5)
    assert result["c1"]["connections"] == 1
    assert result["c16"]["connections"] == 16
    assert result["c16"]["requests"] > 0
    assert revalidated["status"] == "ok"
    assert revalidated["body_bytes"] == 0
