"""Where each script of a port runs: a bubblewrap sandbox of its own, or a plain process.

The grader runs students' code, and a student may want a better grade. So every script of
a port (and every process that runs the port's code, as the grader's own `rq worker`
does) runs in a sandbox made by bubblewrap (`bwrap`, Debian's `bubblewrap` package):

- it sees, read-only, the system (`/usr`), Python and its packages, and its own copy of
  the port at /port, its working directory; nothing else of the machine: no home, no
  other port, not the grader's package, its results or its reports, no host socket;
- it writes only its scratch directory, /tmp (a tmpfs of SCRATCH_BYTES, gone with it);
- it has PID, IPC and UTS namespaces of its own: the grader is not in its PID namespace,
  and every process it starts dies with it; its network is the port's namespace, where
  127.0.0.1:6379 is the task's Redis and 127.0.0.1:1245 the app under grade;
- it runs with LIMITS (memory, processes, file size, CPU time), as a user of its own
  when the grader runs as root, in a clean environment it is told (script_env), with no
  mark of the grader's in it.

Each sandbox's first process is launcher.py, which tells the grader on a pipe of its own
how the script ended and what it left running.

Where no sandbox can be made (no bwrap, no namespaces allowed, or
QUEUING_GRADER_NAMESPACES=0), the scripts run as plain processes under the same
launcher, with the same limits but processes. The grader says so at the top of every
report, and grades a folder of ports only with --trust-ports.

Where the port has no network namespace of its own (none allowed, or a Redis named by
REDIS_URL, which the port must reach), a guard (a `sitecustomize` audit hook) lets a
Python script connect to its Redis and its app's port only, so that a port that
hard-codes `localhost:6379` never reaches a Redis of this machine.
"""

import os
import random
import shutil
import site
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .isolation import NAMESPACES_ENV, unshare_command

BWRAP = "bwrap"
PORT_DIR = "/port"  # where a script sees its port's copy (its working directory)
SITE_DIR = "/site"  # the grader's sitecustomize (line-buffered stdout), nothing else
SCRATCH = "/tmp"  # its only writable directory
SCRATCH_BYTES = 64 << 20
LIMITS = {  # per process; the processes of a port's sandboxes (threads included) all together
    "RLIMIT_AS": 2 << 30,  # its address space: 4 GiB cannot be had
    "RLIMIT_NPROC": 256,
    "RLIMIT_FSIZE": SCRATCH_BYTES,
    "RLIMIT_CPU": 60,  # seconds: a task's script needs a few
    "RLIMIT_CORE": 0,
}
NOT_SANDBOXED = "not sandboxed: grade only trusted ports"
SANDBOX_USERS = (1 << 30, 1 << 31)  # a port's user, as root: an id no account of the machine has
LAUNCHER = (Path(__file__).with_name("launcher.py")).read_text()
HOST_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "mime.types")
GRADER_PACKAGE = Path(__file__).resolve().parents[1]  # queuing_system: no script sees it


LINE_BUFFERED = """# Written by the grader: stdout line-buffered, as in a terminal, though it is a pipe here.
import sys

try:
    sys.stdout.reconfigure(line_buffering=True, write_through=False)
except Exception:
    pass
"""

# Where no sandbox can be made: a Python script may connect to its Redis and its app only.
GUARD = """
# Written by the grader, where it cannot sandbox a script: this script may connect to the
# Redis it was given (REDIS_URL) and to its app's port, nothing else.
import os as _os
import socket as _socket
import sys as _sys
from urllib.parse import urlsplit as _urlsplit


def _grader_allowed():
    ports = set()
    try:
        ports.add(_urlsplit(_os.environ.get("REDIS_URL", "")).port or 6379)
    except ValueError:
        pass
    if _os.environ.get("PORT", "").isdigit():
        ports.add(int(_os.environ["PORT"]))
    return ports


_GRADER_ALLOWED = _grader_allowed()
_LOOPBACK = ("127.", "::1", "::ffff:127.", "localhost")


def _grader_guard(event, args):
    if event != "socket.connect":
        return
    sock, address = args
    if sock.family in (_socket.AF_INET, _socket.AF_INET6) and isinstance(address, tuple):
        host, port = str(address[0]), address[1]
        if host.startswith(_LOOPBACK) and port in _GRADER_ALLOWED:
            return
        where = f"{host}:{port}"
    else:
        where = str(address)
    raise ConnectionRefusedError(
        111, f"the grader lets this script reach REDIS_URL ({_os.environ.get('REDIS_URL')}) only, not {where}"
    )


_sys.addaudithook(_grader_guard)
"""


@dataclass
class Launch:
    """How to start one script: its command, environment and directory, and the fds it
    keeps (the launcher's status pipe, whose read end is `status`)."""

    command: list
    env: dict
    cwd: str
    pass_fds: tuple
    status: int


def script_env(redis_url, port=None, home=SCRATCH, site_dir=SITE_DIR):
    """The clean environment a script gets, all of it: nothing of the grader's or of
    whoever runs it (no home, no token, no mark that says it is being graded)."""
    env = {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home,
        "TMPDIR": home,
        "USER": "student",
        "LOGNAME": "student",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": site_dir,
        "MALLOC_ARENA_MAX": "2",  # fewer malloc arenas: a threaded app stays well within RLIMIT_AS
        "REDIS_URL": redis_url,
        "HOST": "127.0.0.1",
    }
    if port:
        env["PORT"] = str(port)
    return env


def inside(path, folders):
    return any(path == folder or folder in path.parents for folder in folders)


def python_folders():
    """The folders Python and its packages live in, each once (none inside another)."""
    found = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix)}
    found.add(Path(os.path.realpath(sys.executable)).parent)
    folders = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    found.update(Path(folder) for folder in folders if os.path.isdir(folder))
    found = {Path(os.path.realpath(path)) for path in found} | found
    kept = []
    for path in sorted(found, key=lambda path: len(path.parts)):
        if path.is_dir() and not inside(path, [Path("/usr"), *kept]):
            kept.append(path)
    return kept


@cache
def bwrap_features():
    """The options of this bwrap that older ones lack."""
    try:
        help_text = subprocess.run([BWRAP, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(option for option in ("--size", "--disable-userns", "--chmod") if option in help_text)


def in_first_user_namespace():
    """True when this process is in the machine's own user namespace (not one of unshare's)."""
    try:
        return Path("/proc/self/uid_map").read_text().split() == ["0", "0", "4294967295"]
    except OSError:
        return False


class Runner:
    """Starts a port's scripts: sandboxed, or (where no sandbox can be made) plain and guarded.

    `work` is the port's work folder (the runner writes its /etc files, its site folder
    and, unsandboxed, the scratch folders there); `guarded`: unsandboxed, let Python
    scripts connect to their Redis and app only (where no network namespace does it)."""

    def __init__(self, work, sandboxed, guarded=False, extra_folders=()):
        self.work = Path(work)
        self.sandboxed = sandboxed
        self.as_root = sandboxed and os.geteuid() == 0 and in_first_user_namespace()
        self.uid = random.randrange(*SANDBOX_USERS) if self.as_root else 1000
        self.site = self.work / "site"
        self.site.mkdir(parents=True, exist_ok=True)
        (self.site / "sitecustomize.py").write_text(LINE_BUFFERED + (GUARD if guarded else ""))
        os.chmod(self.site, 0o755)
        os.chmod(self.site / "sitecustomize.py", 0o644)
        self.extra_folders = [Path(folder) for folder in extra_folders]
        self.options = self.sandbox_options() if sandboxed else []

    # The sandbox

    def etc_files(self):
        """The /etc a sandbox sees: names for its users, localhost, and the loader's cache."""
        etc = self.work / "etc"
        etc.mkdir(exist_ok=True)
        files = {
            "passwd": f"root:x:0:0::/root:/bin/sh\nstudent:x:{self.uid}:{self.uid}::{SCRATCH}:/bin/sh\n",
            "group": f"root:x:0:\nstudent:x:{self.uid}:\n",
            "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
            "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
        }
        options = []
        for name, text in files.items():
            (etc / name).write_text(text)
            os.chmod(etc / name, 0o644)
            options += ["--ro-bind", str(etc / name), f"/etc/{name}"]
        version = f"/etc/python{sys.version_info.major}.{sys.version_info.minor}"
        for path in [*(f"/etc/{name}" for name in HOST_ETC), version]:
            if os.path.exists(path):
                options += ["--ro-bind", path, path]
        return options

    def sandbox_options(self):
        features = bwrap_features()
        options = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "sandbox"]
        options += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--as-pid-1"]
        if self.as_root:  # the launcher, root without other powers, makes the script a user of its own
            options += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            options += ["--unshare-user", "--uid", str(self.uid), "--gid", str(self.uid)]
            options += ["--disable-userns"] * ("--disable-userns" in features)
        options += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            path = Path("/", name)
            if path.is_symlink():
                options += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                options += ["--ro-bind", str(path), str(path)]
        options += ["--proc", "/proc", "--dev", "/dev"]
        options += ["--size", str(SCRATCH_BYTES)] * ("--size" in features) + ["--tmpfs", SCRATCH]
        options += ["--chmod", "1777", SCRATCH] * ("--chmod" in features)
        options += ["--perms", "0755", "--dir", "/etc", *self.etc_files()]
        made = {Path("/"), Path("/usr"), Path("/etc"), Path(SCRATCH)}
        for folder in [*python_folders(), *self.extra_folders]:
            for parent in reversed(folder.parents):
                if parent not in made:  # bwrap makes them 0700 unless told: the script's user must pass
                    options += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            options += ["--ro-bind", str(folder), str(folder)]
            made.add(folder)
        if inside(GRADER_PACKAGE, python_folders()):  # installed beside the packages: hidden
            options += ["--tmpfs", str(GRADER_PACKAGE)]
        return options

    # Starting a script

    def launch(self, argv, view, env):
        """How to run `argv` from the folder `view` (the port's copy, or a partner's folder),
        its environment `env` made by script_env: a Launch, whose status pipe is open."""
        status, sent = os.pipe()
        settings = dict(LIMITS)
        if self.sandboxed:
            if self.as_root:
                settings["uid"] = self.uid
            else:  # the script is the launcher's user: it must not open the launcher's status pipe
                settings["undumpable"] = ""
            command = [BWRAP, *self.options, "--ro-bind", str(view), PORT_DIR, "--chdir", PORT_DIR]
            command += ["--ro-bind", str(self.site), SITE_DIR, "--clearenv"]
            for name, value in env.items():
                command += ["--setenv", name, value]
            command += ["--", *self.launcher(sent, settings), *argv]
            return Launch(command, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, "/", (sent,), status)
        del settings["RLIMIT_NPROC"]  # it would count every process of this user
        settings["subreaper"] = ""
        scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=self.work))
        env = {**env, "HOME": str(scratch), "TMPDIR": str(scratch), "PYTHONPATH": str(self.site)}
        return Launch(self.launcher(sent, settings) + list(argv), env, str(view), (sent,), status)

    def launcher(self, fd, settings):
        words = ",".join(f"{name}={value}" if value != "" else name for name, value in settings.items())
        return [sys.executable, "-I", "-S", "-c", LAUNCHER, str(fd), words]

    def where(self, view):
        """Where a script sees the folder `view`."""
        return PORT_DIR if self.sandboxed else str(view)


@cache
def sandbox_works(network):
    """Can the scripts of a port be sandboxed? Tried as a port's grading would: in its
    namespaces (`network`: True, False; None: none)."""
    if os.environ.get(NAMESPACES_ENV) == "0" or not shutil.which(BWRAP):
        return False
    prefix = [] if network is None else unshare_command(network)
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "queuing_system.grader.sandbox"], capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def probe():
    """Can a script be sandboxed here? Runs a trivial one: 0 if it ran sandboxed."""
    work = Path(tempfile.mkdtemp(prefix="queuing-grader-probe-"))
    try:
        runner = Runner(work, sandboxed=True)
        launch = runner.launch([sys.executable, "-c", "print('sandboxed')"], work, script_env("redis://"))
        try:
            done = subprocess.run(
                launch.command,
                env=launch.env,
                cwd=launch.cwd,
                pass_fds=launch.pass_fds,
                capture_output=True,
                text=True,
                timeout=20,
            )
        finally:
            os.close(launch.pass_fds[0])
            os.close(launch.status)
        return 0 if done.returncode == 0 and done.stdout == "sandboxed\n" else 1
    except (OSError, subprocess.TimeoutExpired):
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(probe())
