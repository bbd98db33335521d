"""`yikatong serve` as an operator runs it: web server and task worker up, static files served,
both children stopped on SIGTERM, and the whole tree stopped when one child dies."""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="runs on the embedded SQLite database only (the SQLite pass covers it)"
)

BIN = Path(sys.executable).parent
START_TIMEOUT = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too (it only waits for its parent to collect it)
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve-home")
    env = _env(path)
    subprocess.run([str(BIN / "yikatong"), "migrate", "--noinput", "-v", "0"], env=env, check=True, timeout=300)
    return path


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "YIKATONG_DEBUG")}
    env["YIKATONG_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Served:
    def __init__(self, home: Path):
        self.port = _free_port()
        self.log = home / f"serve-{self.port}.log"
        self.process = subprocess.Popen(
            [str(BIN / "yikatong"), "serve", "--port", str(self.port), "--workers", "1"],
            env=_env(home), stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def child_pids(self) -> dict[str, int]:
        return {name: int(pid) for name, pid in re.findall(r"(网页服务|后台任务进程)已启动（PID (\d+)）", self.output())}

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                if _get(self.url + "/login/")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        pytest.fail(f"no HTTP 200 on /login/ within {START_TIMEOUT} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in self.child_pids().values():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _job_status(home: Path, job_id: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        with sqlite3.connect(home / "yikatong.sqlite3", timeout=10) as db:
            row = db.execute("SELECT status FROM core_jobprogress WHERE id = ?", (job_id,)).fetchone()
        status = row[0] if row else "missing"
        if status in ("succeeded", "failed"):
            break
        time.sleep(0.3)
    return status


def test_serve_runs_web_and_worker_and_stops_both_on_sigterm(home):
    served = Served(home)
    try:
        served.wait_ready()
        status, body = _get(served.url + "/login/")
        assert status == 200 and "用户登录" in body.decode()
        status, css = _get(served.url + "/static/core/app.css")
        assert status == 200 and b"{" in css
        children = served.child_pids()
        assert set(children) == {"网页服务", "后台任务进程"}, served.output()
        assert all(_alive(pid) for pid in children.values())
        assert f"http://127.0.0.1:{served.port}/" in served.output()

        # the worker beside the web server really runs queued jobs
        job_id = subprocess.run(
            [str(BIN / "yikatong"), "shell", "-v", "0", "-c",
             "from yikatong.core.scope import Scope; from yikatong.core.tasks import audit_verification_start; "
             "print(audit_verification_start(actor=Scope.system()).pk.hex)"],
            env=_env(home), capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip().splitlines()[-1]
        assert _job_status(home, job_id) == "succeeded", served.output()

        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=40) == 0, served.output()
        assert not any(_alive(pid) for pid in children.values()), served.output()
        assert "平台已停止" in served.output()
    finally:
        served.stop()


def test_serve_stops_the_web_server_when_the_worker_dies(home):
    served = Served(home)
    try:
        served.wait_ready()
        children = served.child_pids()
        os.kill(children["后台任务进程"], signal.SIGKILL)
        code = served.process.wait(timeout=40)
        assert code != 0
        assert not _alive(children["网页服务"]), served.output()
        assert "后台任务进程已退出" in served.output()
    finally:
        served.stop()


def test_serve_refuses_a_port_in_use(home):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [str(BIN / "yikatong"), "serve", "--port", str(port)],
            env=_env(home), capture_output=True, text=True, timeout=60,
        )
    assert result.returncode != 0
    assert f"端口 {port} 已被占用" in result.stderr
    assert "Traceback" not in result.stderr
