"""tryon.serve: API keys, the public-bind check and the per-key rate limit (issue item 6)."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

import hmac

from fastapi.testclient import TestClient

from tryon.cli import main
from tryon.errors import TryonError
from tryon.serve import create_app
from tryon.serve import auth as serve_auth
from tryon.serve.auth import ApiKeys, RateLimiter, check_bind, is_loopback, parse_rate


import serve_support as S  # noqa: E402 - tests/ is on sys.path (tests/conftest.py)
INFER = S.INFER
K1, K2 = "k1-" + "a" * 30, "k2-" + "b" * 30


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return S.tiny_export(tmp_path_factory)


@pytest.fixture(scope="module")
def client(export_dir):
    with TestClient(create_app({"tiny": export_dir}, warmup=False, api_keys=[K1, K2])) as c:
        yield c


def test_routes_need_a_key_and_health_stays_open(client):
    for path in ("/v1/models", "/metrics", "/docs", "/openapi.json", "/v1/models/tiny"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.headers["content-type"] == "application/json" and r.headers["www-authenticate"].startswith("Bearer")
        assert r.json() == {"detail": "missing API key: send Authorization: Bearer KEY or X-API-Key: KEY"}
    r = client.post(INFER, files=S.files(S.P_PNG, S.G_JPG), headers={"Authorization": "Bearer " + "x" * 33})
    assert r.status_code == 401 and r.json() == {"detail": "invalid API key"}
    for path in ("/healthz", "/livez", "/readyz", "/v2/health/live", "/v2/health/ready"):
        assert client.get(path).status_code == 200, path
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {K1}"}).status_code == 200
    assert client.get("/metrics", headers={"X-API-Key": K2}).status_code == 200
    r = client.post(INFER, files=S.files(S.P_PNG, S.G_JPG), headers={"X-API-Key": K1})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    text = client.get("/metrics", headers={"X-API-Key": K1}).text
    assert 'tryon_serve_rejected_total{reason="unauthorized"} 6.0' in text
    assert 'tryon_serve_requests_total{route="/v1/models",status="401"} 1.0' in text  # refused before routing


def test_keys_are_compared_in_constant_time(client, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(serve_auth.hmac, "compare_digest", spy)
    assert client.get("/v1/models", headers={"X-API-Key": K1}).status_code == 200
    assert calls == [(32, 32), (32, 32)]  # SHA-256 digests (equal lengths), every key compared: no early exit
    calls.clear()
    assert client.get("/v1/models", headers={"X-API-Key": "short"}).status_code == 401
    assert calls == [(32, 32), (32, 32)]


def test_keys_from_file_and_environment(tmp_path, monkeypatch):
    f = tmp_path / "keys.txt"
    f.write_text(f"# shop back end\n{K1}\n\n  {K2}  \n")
    monkeypatch.setenv("TRYON_API_KEYS", "k3-" + "c" * 30 + ", ")
    keys = ApiKeys.load(f)
    assert len(keys) == 3 and keys.match(K2) == "key2" and keys.match("k3-" + "c" * 30) == "key3"
    assert keys.match(K1 + "x") is None and keys.match("") is None and keys.match(None) is None
    monkeypatch.delenv("TRYON_API_KEYS")
    with pytest.raises(TryonError, match="API key #1: expected at least 16 characters"):
        ApiKeys(["short"])
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(TryonError, match="expected one key per line, found none"):
        ApiKeys.load(tmp_path / "empty.txt")
    with pytest.raises(TryonError, match="cannot read it"):
        ApiKeys.load(tmp_path / "missing.txt")


def test_public_bind_needs_keys_or_insecure(export_dir, monkeypatch, capsys):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.8.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("shop.example")
    assert check_bind("127.0.0.1", None, False) is None and check_bind("0.0.0.0", ApiKeys([K1]), False) is None
    with pytest.raises(TryonError, match="not loopback.*with no API key.*--insecure"):
        check_bind("0.0.0.0", ApiKeys([]), False)
    assert check_bind("0.0.0.0", None, True).startswith("WARNING: binding 0.0.0.0 (not loopback) with no API key")
    monkeypatch.delenv("TRYON_API_KEYS", raising=False)
    # the CLI refuses before loading any model, and warns loudly with --insecure
    assert main(["serve", "--model", str(export_dir), "--host", "0.0.0.0"]) == 1
    assert "--insecure" in capsys.readouterr().err
    ran = {}

    class FakeServer:
        def run(self):
            ran["run"] = True

    import tryon.serve.server as server_mod

    monkeypatch.setattr(server_mod, "make_server", lambda app, **kw: ran.update(kw) or FakeServer())
    assert main(["serve", "--model", str(export_dir), "--host", "0.0.0.0", "--insecure", "--port", "9"]) == 0
    err = capsys.readouterr().err
    assert "WARNING: binding 0.0.0.0 (not loopback) with no API key" in err and ran["run"] and ran["host"] == "0.0.0.0"


def test_rate_limit_gives_429_with_retry_after(export_dir):
    app = create_app({"tiny": export_dir}, warmup=False, api_keys=[K1, K2], rate_limit=0.1, rate_burst=2)
    with TestClient(app) as c:
        codes = [c.post(INFER, files=S.files(S.P_PNG, S.G_JPG), headers={"X-API-Key": K1}).status_code
                 for _ in range(3)]
        assert codes == [200, 200, 429]
        r = c.post(INFER, files=S.files(S.P_PNG, S.G_JPG), headers={"X-API-Key": K1})
        retry = int(r.headers["retry-after"])
        assert r.status_code == 429 and 5 <= retry <= 10  # 1 token takes 10 s at 0.1/s (less what has elapsed)
        assert r.json()["detail"] == f"rate limit: at most 0.1 requests/s (burst 2); retry in {retry} s"
        assert c.post(INFER, files=S.files(S.P_PNG, S.G_JPG), headers={"X-API-Key": K2}).status_code == 200  # per key
        assert c.get("/v1/models", headers={"X-API-Key": K1}).status_code == 200  # GETs are not limited
        assert c.get("/healthz").status_code == 200
        assert app.state.tryon.metrics.value("tryon_serve_rejected_total", reason="rate_limited") == 2


def test_rate_limiter_token_bucket():
    now = [0.0]
    rl = RateLimiter(2.0, burst=3, clock=lambda: now[0])
    assert [rl.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rl.hit("a") == pytest.approx(0.5) and rl.hit("b") == 0.0  # identities are independent
    now[0] = 0.5  # one token back
    assert rl.hit("a") == 0.0 and rl.hit("a") > 0
    assert parse_rate("5") == 5 and parse_rate("120/min") == 2 and parse_rate("3600/h") == 1
    for bad in ("0/s", "fast", "5/day"):
        with pytest.raises(ValueError, match="expected a rate like"):
            parse_rate(bad)
    for i in range(serve_auth.MAX_BUCKETS + 10):  # the table of identities is bounded
        rl.hit(f"addr:{i}")
    assert len(rl._buckets) == serve_auth.MAX_BUCKETS
