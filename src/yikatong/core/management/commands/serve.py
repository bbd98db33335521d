"""`yikatong serve`: the web server (gunicorn) and the task worker (`db_worker`) as one process tree.

Both run as child processes in their own session, so a Ctrl+C in the terminal reaches only this
command, which then stops both children once and in order. When either child dies the other is
stopped too and the command exits non-zero: a platform without its worker would queue imports and
checks forever while looking healthy.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

STOP_TIMEOUT = 20  # seconds a child gets to finish after SIGTERM before it is killed


def _bin(name: str) -> list[str]:
    """A console script of this virtualenv (next to the running Python), else `python -m`."""
    candidate = Path(sys.executable).with_name(name)
    if candidate.exists():
        return [str(candidate)]
    return [sys.executable, "-m", {"gunicorn": "gunicorn", "yikatong": "yikatong.cli"}[name]]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: if `serve` itself is killed (even with SIGKILL), the kernel stops the child too."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = "启动网页服务（gunicorn）和后台任务进程（db_worker），按 Ctrl+C 同时停止。"
    requires_system_checks = []  # `check` runs below, once, with a readable message

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1；对外服务用 0.0.0.0）")
        parser.add_argument("--port", type=int, default=8000, help="端口（默认 8000）")
        parser.add_argument("--workers", type=int, default=2, help="网页服务进程数（默认 2）")
        parser.add_argument("--threads", type=int, default=4, help="每个网页服务进程的线程数（默认 4）")
        parser.add_argument("--task-workers", type=int, default=1,
                            help="后台任务进程数（默认 1；SQLite 只能有一个写入者，多开无益）")

    def handle(self, *args, host, port, workers, threads, task_workers, verbosity, **options):
        if workers < 1 or threads < 1 or task_workers < 0:
            raise CommandError("--workers、--threads 必须至少为 1，--task-workers 不能为负数。")
        if _port_open(host, port):
            raise CommandError(f"端口 {port} 已被占用：可能平台已在运行，或请用 --port 换一个端口。")
        self.check(display_num_errors=False)
        self.check_migrations()
        self._static(verbosity)

        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = False
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            self._start("网页服务", _bin("gunicorn") + [
                "yikatong.wsgi:application",
                "--bind", f"{host}:{port}",
                "--workers", str(workers),
                "--threads", str(threads),
                "--timeout", "120",
                "--graceful-timeout", str(STOP_TIMEOUT - 5),
                "--access-logfile", "-",
                "--error-logfile", "-",
                "--no-control-socket",  # one socket per home directory would clash between instances
            ])
            for number in range(1, task_workers + 1):
                name = "后台任务进程" if task_workers == 1 else f"后台任务进程 {number}"
                self._start(name, _bin("yikatong") + ["db_worker", "--no-reload", "--interval", "1"])
            code = self._supervise(host, port)
        finally:
            self._stop_all()
        if code:
            raise CommandError(f"平台已停止：{self.failed_child}意外退出（退出码 {code}），详见上方日志。")
        self.stdout.write("平台已停止。")

    # -- steps ------------------------------------------------------------------------------------
    def _static(self, verbosity: int) -> None:
        """WhiteNoise serves straight from the app folders when WHITENOISE_USE_FINDERS is on (our
        default); otherwise the files must be collected into STATIC_ROOT first."""
        if getattr(settings, "WHITENOISE_USE_FINDERS", False):
            return
        self.stdout.write("正在收集静态文件……")
        call_command("collectstatic", interactive=False, verbosity=max(0, verbosity - 1))

    def _start(self, name: str, argv: list[str]) -> None:
        process = subprocess.Popen(
            argv,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        self.children[name] = process
        self.stdout.write(f"{name}已启动（PID {process.pid}）")

    def _supervise(self, host: str, port: int) -> int:
        announced = False
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        started = time.monotonic()
        self.failed_child = ""
        while not self.stopping:
            for name, process in self.children.items():
                code = process.poll()
                if code is not None:
                    if self.stopping:
                        return 0
                    self.failed_child = name
                    self.stderr.write(f"{name}已退出（退出码 {code}），正在停止其他进程……")
                    return code or 1
            if not announced and _port_open(shown_host, port):
                announced = True
                self.stdout.write(self.style.SUCCESS(
                    f"一卡通平台已就绪：http://{shown_host}:{port}/  （按 Ctrl+C 停止）"
                ))
            elif not announced and time.monotonic() - started > 60:
                announced = True
                self.stderr.write("网页服务 60 秒内未能开始监听端口，请查看上方日志。")
            time.sleep(0.2)
        return 0

    def _on_signal(self, signum, frame) -> None:
        if not self.stopping:
            self.stopping = True
            self.stdout.write("正在停止平台（等待进行中的请求和任务完成）……")

    def _stop_all(self) -> None:
        """SIGTERM lets gunicorn finish its requests and the worker finish its current task. A child
        still running after STOP_TIMEOUT gets a second SIGTERM (the worker then interrupts its task,
        which records the job as interrupted), and SIGKILL as the last resort."""
        self.stopping = True
        self._signal_all(signal.SIGTERM)
        if self._wait_all(STOP_TIMEOUT):
            return
        self.stderr.write(f"仍有进程未在 {STOP_TIMEOUT} 秒内停止，正在中断进行中的任务……")
        self._signal_all(signal.SIGTERM)
        if self._wait_all(5):
            return
        for name, process in self.children.items():
            if process.poll() is None:
                self.stderr.write(f"{name}未能停止，强制结束。")
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()

    def _signal_all(self, signum: int) -> None:
        for process in self.children.values():
            if process.poll() is None:
                try:
                    os.kill(process.pid, signum)
                except ProcessLookupError:
                    pass

    def _wait_all(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for process in self.children.values():
            try:
                process.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
        return True
