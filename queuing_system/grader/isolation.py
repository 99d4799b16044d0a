"""Keeping a port's processes apart: namespaces, process trees, and the end of every process.

Each port is graded by a process of its own (port.py). Where Linux lets us (root, or an
unprivileged user namespace), that process runs in new PID and network namespaces:

- in its network namespace, 127.0.0.1:6379 is the grader's own Redis and 127.0.0.1:1245
  the app under grade, whatever this machine runs on those ports, so a port that
  hard-codes `localhost:6379` (as `redis.createClient()` did) is graded fairly, several
  ports are graded side by side, and nothing of the port can reach a Redis of this machine
  on localhost;
- in its PID namespace, every process the port started, a `setsid` daemon included, is
  killed by the kernel when the grading of the port ends.

Each script runs under the grader's launcher (launcher.py), in a bubblewrap sandbox of its
own where one can be made (sandbox.py): everything a script starts is found there, and
dies with it. Where none can be made, the launcher is a child subreaper (a double-forked
daemon is still its child), and the port's grading process is one too, for what outlives
a launcher killed; the command line is one for what outlives a port's grading process.
Nothing is found by a mark in the environment: no script is told it is being graded.
"""

import ctypes
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from functools import cache

NAMESPACES_ENV = "QUEUING_GRADER_NAMESPACES"  # "0" grades without namespaces (as where none are allowed)
KILL_ROUNDS = 200  # a process forking as fast as it can is outrun within these rounds of SIGKILL
PR_SET_CHILD_SUBREAPER = 36


def unshare_command(network):
    """The `unshare` prefix that runs a command as PID 1 of new namespaces; the kernel
    kills the namespace's processes when it ends, and `--kill-child` ends it with unshare."""
    flags = ["--pid", "--fork", "--mount-proc", "--kill-child"]
    if network:
        flags.insert(0, "--net")
    if os.geteuid() != 0:
        flags = ["--user", "--map-root-user", *flags]
    return ["unshare", *flags, "--"]


@cache
def namespaces_work(network):
    """Can this machine run a port in namespaces of its own? (A container without
    CAP_SYS_ADMIN, or a kernel without user namespaces, cannot.)"""
    if os.environ.get(NAMESPACES_ENV) == "0":
        return False
    probe = "from queuing_system.grader.isolation import loopback_up; loopback_up()" if network else "pass"
    try:
        done = subprocess.run(
            [*unshare_command(network), sys.executable, "-c", probe],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def loopback_up():
    """Bring up `lo` in a new network namespace (it starts down): ioctl SIOCSIFFLAGS, as
    `ip link set lo up` does, without needing iproute2."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(probe, siocgifflags, request))[1]
        fcntl.ioctl(probe, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))


def reap_orphans_as_init():
    """As PID 1 of a namespace, a process inherits every orphan (a daemon's parent that
    exited) and must reap them, or they stay zombies. Fork: the child carries on as the
    grader, this process reaps every child until the grader ends, then exits as it did."""
    grader = os.fork()
    if grader == 0:
        return
    for stop in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(stop, lambda signum, frame: os.kill(grader, signal.SIGTERM))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if pid == grader:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)  # killed by a signal: the shell's 128 + it


def become_subreaper():
    """Have the orphans of this process's descendants come to it, not to PID 1 (a script
    that double-forks a daemon, then ends, leaves the daemon to us)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def process_parents():
    """{pid: parent pid} of every live process (zombies left out) this process can see."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            parents[int(entry)] = int(fields[1])
    return parents


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as found:
            return [int(child) for child in found.read().split()]
    except OSError:
        return [child for child, parent in process_parents().items() if parent == pid]


def descendants(pid):
    """Every live process under `pid`."""
    parents = process_parents()
    found, frontier = [], {pid}
    while frontier:
        below = {child for child, parent in parents.items() if parent in frontier}
        found.extend(below)
        frontier = below
    return found


def reap(pids):
    """Collect the exit status of these children of ours (orphans that came to us)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def kill_all(find):
    """SIGKILL every process `find()` returns, again until it returns none; those that were
    our own children (orphans adopted) are reaped."""
    killed = set()
    for _ in range(KILL_ROUNDS):
        found = find()
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.005)
        reap(found)
    reap(killed)
    return killed


def socket_inodes(pids):
    inodes = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    return inodes


def listening_ports(pids):
    """The TCP ports these processes listen on (in this process's network namespace)."""
    inodes = socket_inodes(pids)
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                lines = rows.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
