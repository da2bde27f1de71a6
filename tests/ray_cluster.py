"""A local two-node Ray cluster shaped like a real one whose nodes share no file system: a head node that runs no
task, and a worker node with the CPUs in a mount namespace of its own, where the driver's folders are empty."""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))


def usable():
    """Why this machine cannot start the cluster (None: it can): the worker node's mount namespace needs root."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "a worker node in a mount namespace of its own needs root and unshare"
    return None


class TwoNodeCluster:
    """``start()`` it, point a study at ``address`` with ``env``, ``stop()`` it (every process of both nodes)."""

    def __init__(self, hidden, cpus=2):
        self.hidden, self.cpus = [str(Path(path).resolve()) for path in hidden], cpus
        self.folder = Path(tempfile.mkdtemp(prefix="annt-ray-"))  # short: Ray's socket paths must be
        (self.folder / "token").write_text(secrets.token_hex(32))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.folder / "token")}
        self.nodes = []

    def start(self):
        self._node("head", lambda temporary: [RAY, "start", "--head", "--num-cpus=0", f"--port={self.port}",
                                              f"--temp-dir={temporary}", "--block"])
        self._wait_for(1)
        self.start_worker()
        return self

    def start_worker(self):
        """A worker node: its own temporary folder, and the ``hidden`` folders mounted over by empty ones."""
        mounts = " && ".join(f"mount -t tmpfs none '{path}'" for path in self.hidden)
        self._node(f"worker{len(self.nodes)}", lambda temporary: [
            "unshare", "--mount", "--propagation", "private", "sh", "-c",
            f"{mounts} && exec {RAY} start --address={self.address} --num-cpus={self.cpus} --temp-dir='{temporary}' "
            "--block"])
        self._wait_for(len(self.nodes))

    def _node(self, name, command):
        temporary = self.folder / name
        temporary.mkdir()
        with open(self.folder / f"{name}.log", "w") as log:
            self.nodes.append(subprocess.Popen(command(temporary), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True))

    def _wait_for(self, nodes, timeout=120):
        deadline = time.time() + timeout
        code = f"import ray; ray.init(address='{self.address}'); print(len([n for n in ray.nodes() if n['Alive']]))"
        while time.time() < deadline:
            found = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True)
            if found.returncode == 0 and found.stdout.strip().splitlines()[-1:] == [str(nodes)]:
                return
            time.sleep(1)
        raise RuntimeError(f"the Ray cluster did not reach {nodes} node(s); see {self.folder}/*.log")

    def task_processes(self, name):
        """Process ids of this cluster's Ray workers running the task ``name`` (Ray titles them ``ray::name``); the
        workers of any other Ray job on the machine are not this cluster's descendants and are left alone."""
        nodes, found = {node.pid for node in self.nodes}, []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(f"ray::{name}".encode()):
                    found.append(int(entry.name))
            except OSError:
                continue
        return [pid for pid in found if _descends_from(pid, nodes)]

    def stop(self):
        while self.nodes:
            _kill(self.nodes.pop())
        shutil.rmtree(self.folder, ignore_errors=True)


def _kill(node):
    try:
        os.killpg(node.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    node.wait()


def _parent(pid):
    """The parent's process id (0 once gone): the field after the parenthesised command name in /proc/PID/stat."""
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _descends_from(pid, ancestors):
    while pid > 1:
        if pid in ancestors:
            return True
        pid = _parent(pid)
    return False
