"""`shoplake docs publish`: the dbt docs site and the dashboard as a static site, in a
directory and under an S3 prefix (with the content types a browser needs)."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import boto3
from cli_kit import run_shoplake, the_error_line

from shoplake.warehouse import artifacts_dir

PAGES = (
    "index.html",
    "docs/index.html",
    "docs/manifest.json",
    "docs/catalog.json",
    "dashboard/index.html",
)


def local_links(page: str) -> list[str]:
    return [h for h in re.findall(r'href="([^"#:]+)"', page) if not h.startswith("data:")]


def test_publish_to_a_directory_is_a_site_whose_links_resolve(lake_copy, tmp_path):
    site = tmp_path / "site"
    result = run_shoplake(
        "docs", "publish", "--lake", str(lake_copy.root), "--no-generate", "--to", str(site)
    )
    assert result.returncode == 0, result.stderr
    assert sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()) == sorted(PAGES)
    docs = artifacts_dir(lake_copy, "dev") / "target"
    for name in ("manifest.json", "catalog.json"):
        assert (site / "docs" / name).read_bytes() == (docs / name).read_bytes()
    landing = (site / "index.html").read_text("utf-8")
    assert set(local_links(landing)) == {"docs/index.html", "dashboard/index.html"}
    docs_page = (site / "docs" / "index.html").read_text("utf-8")
    assert 'href="../dashboard/index.html"' in docs_page
    dashboard = (site / "dashboard" / "index.html").read_text("utf-8")
    assert '"docs_href":"../docs/index.html"' in dashboard  # the page's embedded data
    for page, href in (
        ("index.html", "docs/index.html"),
        ("docs/index.html", "../dashboard/index.html"),
    ):
        assert (site / page).parent.joinpath(href).resolve().is_file()

    # served by a plain static file server, as published
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(site))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        for page in PAGES:
            with urllib.request.urlopen(base + page) as response:
                assert response.status == 200
        with urllib.request.urlopen(base + "docs/manifest.json") as response:
            assert "nodes" in json.load(response)
    finally:
        server.shutdown()
        server.server_close()


def test_publish_to_s3_sets_content_types(lake_copy, s3_bucket, aws_env):
    result = run_shoplake(
        "docs",
        "publish",
        "--lake",
        str(lake_copy.root),
        "--no-generate",
        "--to",
        f"s3://{s3_bucket}/site",
    )
    assert result.returncode == 0, result.stderr
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert keys == {f"site/{page}" for page in PAGES}
    types = {k: s3.head_object(Bucket=s3_bucket, Key=k)["ContentType"] for k in keys}
    assert types["site/index.html"].startswith("text/html")
    assert types["site/dashboard/index.html"].startswith("text/html")
    assert types["site/docs/manifest.json"] == "application/json"
    body = s3.get_object(Bucket=s3_bucket, Key="site/docs/index.html")["Body"].read()
    assert b'href="../dashboard/index.html"' in body


def test_publish_without_docs_is_one_line(lake_copy, tmp_path):
    (artifacts_dir(lake_copy, "dev") / "target" / "catalog.json").unlink()
    line = the_error_line(
        run_shoplake(
            "docs",
            "publish",
            "--lake",
            str(lake_copy.root),
            "--no-generate",
            "--to",
            str(tmp_path / "s"),
        )
    )
    assert "missing catalog.json" in line
    assert not (tmp_path / "s").exists()
