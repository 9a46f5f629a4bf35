"""Page latency under load: 5,000 enterprises, 20 concurrent clients, p50/p95 and requests/s.

    .venv/bin/python benchmarks/pages.py [--enterprises 5000] [--clients 20] [--seconds 15] [--workers 1]
                                         [--database-url URL]

Seeds a fresh database (SQLite under a temporary folder unless --database-url is given), starts the
server as a separate process, signs in as a city officer and a district officer, then runs each
scenario for --seconds with --clients concurrent clients. Target on a 2-core machine: p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(env: dict[str, str], n: int) -> None:
    code = (
        "from chaoyun import migrate; from chaoyun.db import get_sessionmaker; from chaoyun.identity import demo\n"
        "migrate.upgrade()\n"
        f"db = get_sessionmaker()(); demo.seed(db, enterprises={n}, progress=True); db.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def login(base: str, username: str) -> httpx.Cookies:
    with httpx.Client(base_url=base) as c:
        page = c.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = c.post("/login", data={"username": username, "password": f"{username}-demo-2018", "csrf_token": csrf})
        assert r.status_code == 303, r.text
        return c.cookies


async def scenario(
    base: str, cookies: httpx.Cookies, urls: list[str], clients: int, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def worker(k: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=30) as c:
            i = k
            while time.monotonic() < stop:
                url = urls[i % len(urls)]
                i += 1
                t0 = time.perf_counter()
                r = await c.get(url)
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    errors += 1

    t_start = time.monotonic()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    elapsed = time.monotonic() - t_start
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "max_ms": latencies[-1],
    }


WRK_LUA = r"""
local urls = {}
local i = 0
init = function(args) for _, u in ipairs(args) do table.insert(urls, u) end end
request = function()
  i = i + 1
  return wrk.format("GET", urls[(i % #urls) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('JSON {"requests": %d, "errors": %d, "p50_ms": %.2f, "p95_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, e.status + e.connect + e.read + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency.max / 1000))
end
"""


def wrk_scenario(base: str, cookies: httpx.Cookies, urls: list[str], clients: int, seconds: float) -> dict[str, float]:
    """Load from wrk (C, one thread): the generator barely competes with the server for the 2 cores."""
    fd, name = tempfile.mkstemp(suffix=".lua")
    os.close(fd)
    script = Path(name)
    script.write_text(WRK_LUA)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    try:
        out = _run_wrk(script, cookie, base, urls, clients, seconds)
    finally:
        script.unlink(missing_ok=True)
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    r: dict[str, float] = json.loads(line[5:])
    r["rps"] = r["requests"] / seconds
    return r


def _run_wrk(script: Path, cookie: str, base: str, urls: list[str], clients: int, seconds: float) -> str:
    return subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{clients}",
            f"-d{seconds:.0f}s",
            "-s",
            str(script),
            "-H",
            f"Cookie: {cookie}",
            base,
            "--",
            *urls,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--enterprises", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--database-url", default="")
    ap.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk (apt-get install wrk) or the built-in Python one",
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-"))
    atexit.register(shutil.rmtree, tmp, True)  # the seeded database: never leave it behind
    env = os.environ.copy()
    env.update(
        {
            "CHAOYUN_VAR_DIR": str(tmp),
            "CHAOYUN_DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
            "CHAOYUN_SECRET_KEY": "bench",
            "CHAOYUN_BACKGROUND": "0",
        }
    )
    print(f"seeding {args.enterprises} enterprises into {env['CHAOYUN_DATABASE_URL']} ...")
    seed(env, args.enterprises)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # `chaoyun serve` is what deployments run: each worker binds the port with SO_REUSEPORT.
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaoyun",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        for _ in range(200):
            try:
                httpx.get(base + "/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        city = login(base, "city")
        district = login(base, "chenghai")
        with httpx.Client(base_url=base, cookies=city) as c:
            # Profiles from the third page of 200 (away from the named demo companies at the top), or the last
            # page when there are fewer (small --enterprises runs).
            everyone = c.get("/api/v1/organisations?per_page=1").json()["total"]
            page = max(1, min(3, -(-everyone // 200)))
            ids = [o["id"] for o in c.get(f"/api/v1/organisations?per_page=200&page={page}").json()["items"]]
            total = c.get("/api/v1/organisations?per_page=1&status=active").json()["total"]
        if not ids:
            raise SystemExit("no organisations to open: did seeding fail?")
        deep = max(1, total // 25 - 5)
        scenarios = [
            ("directory, page 1 (city officer)", city, ["/gov/enterprises"]),
            (
                "directory, filtered (district officer)",
                district,
                [
                    "/gov/enterprises?cluster=toys",
                    "/gov/enterprises?size_class=small&cluster=toys",
                    "/gov/enterprises?q=" + quote("玩具"),
                    "/gov/enterprises?doubling=1",
                ],
            ),
            (f"directory, deep page {deep}", city, [f"/gov/enterprises?page={deep}"]),
            ("enterprise profile page", city, [f"/orgs/{i}" for i in ids]),
        ]
        use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
        for _label, cookies, urls in scenarios:  # warm-up
            asyncio.run(scenario(base, cookies, urls, 4, 1.0))
        results = {}
        print(
            f"\n{args.enterprises} enterprises, {args.clients} concurrent clients, {args.seconds:.0f} s each, "
            f"{args.workers} worker(s), {os.cpu_count()} CPU(s), load from {'wrk' if use_wrk else 'Python'}"
        )
        print(f"{'scenario':44} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'errors':>7}")
        for label, cookies, urls in scenarios:
            if use_wrk:
                r = wrk_scenario(base, cookies, urls, args.clients, args.seconds)
            else:
                r = asyncio.run(scenario(base, cookies, urls, args.clients, args.seconds))
            results[label] = r
            print(
                f"{label:44} {r['rps']:8.0f} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['max_ms']:8.1f} {r['errors']:7d}"
            )
        load = os.getloadavg()
        print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        out = ROOT / "benchmarks" / "out"
        out.mkdir(parents=True, exist_ok=True)
        (out / "pages.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
        failed = {label: r["errors"] for label, r in results.items() if r["errors"]}
        if failed:
            print(f"FAILED: answers other than 200: {failed}")
            raise SystemExit(1)
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
