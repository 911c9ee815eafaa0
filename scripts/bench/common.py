"""What every benchmark of the suite shares: databases, the local validator, the web server(s),
the load generator (wrk), percentiles, the machine's load, and docs/benchmarks.md sections.

The code under test is `--code-dir` (default: this checkout), so the same harness measures the
current code and an older commit (`git worktree add /tmp/before <commit>`) in one session."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HARNESS_ROOT = Path(__file__).resolve().parent.parent.parent  # this checkout
SCRIPTS_DIR = HARNESS_ROOT / "scripts"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
# The benchmarks' Redis: BENCH_REDIS_URL, or a private redis-server of their own (start_redis),
# so a benchmark never flushes or shares a Redis database with tests or other runs.
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "")
SECRET = "bench-only-secret-key-not-for-anything-else"


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def machine_load() -> str:
    """The 1/5/15-minute load averages (2 cores here; other engineers' tests run alongside)."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def recreate_database(name: str) -> str:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def start_redis(work: Path) -> str:
    """A private redis-server (no persistence) on a free port for this benchmark process,
    stopped when it exits; unless BENCH_REDIS_URL names one."""
    global BENCH_REDIS_URL
    if BENCH_REDIS_URL:
        return BENCH_REDIS_URL
    import atexit
    import shutil

    port = free_port()
    server = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                               "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(work)],
                              stdout=(work / "redis.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    atexit.register(stop_process, server)
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"redis-server did not start; see {work / 'redis.log'}")
        time.sleep(0.05)
    BENCH_REDIS_URL = f"redis://127.0.0.1:{port}/0"
    return BENCH_REDIS_URL


def flush_redis(url: str | None = None) -> None:
    import redis

    redis.Redis.from_url(url or BENCH_REDIS_URL).flushdb()


def database_name(kind: str, label: str) -> str:
    """One database per benchmark and label, so a "before" and an "after" run can overlap."""
    return f"cvms_bench_{kind}_{re.sub(r'[^a-z0-9]', '_', label.lower())}"


def code_env(code_dir: Path, **extra) -> dict:
    """The environment of a process running the code under test with the bench settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("RPC_URL", "WS_URL", "LOCALNET_FILE")}
    env.update({
        "PYTHONPATH": f"{SCRIPTS_DIR}{os.pathsep}{code_dir}",
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_SECRET_KEY": SECRET,
        "REDIS_URL": BENCH_REDIS_URL or start_redis(Path(tempfile.mkdtemp(prefix="bench-redis-"))),
        # The limiters still run (every read is charged to its client's bucket and the anonymous
        # pool); they never refuse here, where one IP sends everything.
        "RATE_LIMIT_GLOBAL_REQUESTS": str(10**12),
        "RATE_LIMIT_ANONYMOUS_REQUESTS": str(10**11),
        "PYTHONUNBUFFERED": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(code_dir: Path, env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=code_dir, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def record_chain(code_dir: Path, env: dict) -> None:
    """Code that keeps one chain per ledger records the validator's chain before anything is
    seeded (the seeded history's filler vaults are on no chain at all)."""
    if (code_dir / "vaults" / "management" / "commands" / "ledger_chain.py").exists():
        manage(code_dir, env, "ledger_chain", "--adopt")


# ---- the local validator ---------------------------------------------------------------------


@dataclass
class Localnet:
    process: subprocess.Popen
    description: dict

    @property
    def rpc_url(self) -> str:
        return self.description["rpc_url"]

    @property
    def ws_url(self) -> str:
        return self.description["ws_url"]

    def stop(self) -> None:
        stop_process(self.process)


def start_localnet(code_dir: Path, work: Path, wallets: int = 3) -> Localnet:
    out = work / "localnet.json"
    out.unlink(missing_ok=True)
    process = subprocess.Popen(
        ["node", str(code_dir / "scripts" / "localnet" / "localnet.js"), "--out", str(out),
         "--keys", str(work / "localnet-keys.json"), "--wallets", str(wallets)],
        cwd=code_dir, stdout=(work / "localnet.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not out.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the local validator did not start; see {work / 'localnet.log'}")
        time.sleep(0.2)
    return Localnet(process, json.loads(out.read_text()))


# ---- processes -------------------------------------------------------------------------------


def stop_process(process: subprocess.Popen | None, timeout: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (the web server's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited during startup ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def web_command(code_dir: Path, port: int, processes: int) -> list[str]:
    """How the code under test serves the web: its `scripts/run.py` says (`web_command`), or,
    in code that predates that, one daphne."""
    sys.path.insert(0, str(code_dir / "scripts"))
    try:
        import importlib

        run = importlib.import_module("run")
        importlib.reload(run)
        builder = getattr(run, "web_command", None)
    finally:
        sys.path.pop(0)
        sys.modules.pop("run", None)
    if builder is None:
        if processes != 1:
            raise SystemExit("this code serves the web with one process only")
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "vaultsite.asgi:application"]
    return builder(sys.executable, "127.0.0.1", port, processes)


@dataclass
class WebServer:
    process: subprocess.Popen
    port: int
    processes: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.process)


def start_web(code_dir: Path, env: dict, work: Path, *, processes: int = 1, name: str = "web") -> WebServer:
    port = free_port()
    command = web_command(code_dir, port, processes)
    log_path = work / f"{name}-{port}.log"
    process = subprocess.Popen(command, cwd=code_dir, env={**env, "PORT": str(port)},
                               stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    server = WebServer(process, port, processes, log_path)
    wait_for_http(f"{server.base}/bench/bare", process)
    # Every worker process answers at least once before anything is measured.
    for _ in range(20 * processes):
        urllib.request.urlopen(f"{server.base}/bench/bare", timeout=5).read()
    return server


# ---- load generation (wrk) -------------------------------------------------------------------


@dataclass
class LoadResult:
    path: str
    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    load: str = ""
    extra: dict = field(default_factory=dict)


def ensure_wrk() -> str:
    from shutil import which

    found = which("wrk")
    if found:
        return found
    log("installing wrk (Debian package) for the HTTP load")
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return which("wrk")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(base: str, path: str, *, connections: int = 16, seconds: float = 5, threads: int = 1) -> LoadResult:
    """Closed-loop load from `connections` keep-alive connections; every non-2xx answer and
    socket error is counted (a figure with errors is not a throughput)."""
    # wrk takes whole seconds only.
    command = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s",
               base + path]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", out, re.M))
    if len(latency) != 3:
        raise RuntimeError(f"unexpected wrk output for {path}:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return LoadResult(path=path, connections=connections, seconds=seconds, requests=requests,
                      rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                      p50_ms=_ms(latency["50"]), p90_ms=_ms(latency["90"]), p99_ms=_ms(latency["99"]),
                      errors=errors, load=machine_load())


def paired(base: str, path: str, *, baseline: str = "/bench/bare", **options) -> tuple[LoadResult, LoadResult]:
    """The baseline, then the path, under the same load: their ratio is the figure."""
    return wrk(base, baseline, **options), wrk(base, path, **options)


# ---- docs/benchmarks.md -----------------------------------------------------------------------


def update_section(path: Path, key: str, body: str) -> None:
    """Replaces the text between `<!-- begin:key -->` and `<!-- end:key -->`; appends the
    section when it is not there yet."""
    text = path.read_text()
    begin, end = f"<!-- begin:{key} -->", f"<!-- end:{key} -->"
    if begin not in text:
        path.write_text(f"{text.rstrip()}\n\n{begin}\n{body}\n{end}\n")
        return
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}")


def save_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=lambda o: o.__dict__))
