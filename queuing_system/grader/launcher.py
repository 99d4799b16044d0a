"""The first process of every script the grader runs, and the last to leave.

Run as `python -I -S -c <this file's text> STATUS_FD SETTINGS COMMAND...` (so nothing of
the grader's package needs to be visible where it runs), SETTINGS words joined by commas
(`RLIMIT_AS=2147483648`, `uid=N`, `subreaper`, `undumpable`): it sets the script's limits,
starts COMMAND as its child, passes it the grader's SIGTERM or SIGINT, and tells the
grader on STATUS_FD, a pipe the script never holds, how the script ended and what it
left running. In a bubblewrap sandbox it is PID 1 of the script's PID namespace (every
orphan comes to it, and all of them die when it exits); elsewhere it makes itself a
child subreaper, so that a double-forked daemon still comes to it.

The lines it writes: `pid N` once the script runs, `exit CODE` when it ends (a negative
CODE: killed by that signal, as subprocess says), `left COMMAND-LINE<tab>...` for what was
still running LEFTOVER_GRACE seconds later (killed then), and `done` as it exits.
It uses the standard library only, and imports little: it starts before every script.
"""

import _signal as signal  # `signal` without its enums: importing those costs 5 ms before every script
import os
import resource
import sys
import time

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
LEFTOVER_GRACE = 2.0  # seconds what a script started has to end by itself once the script ended
PASSED_ON = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def processes_below(root):
    """The pids under `root` (its descendants), from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != b"Z":  # a zombie is gone already: only its exit status is left
                parents[int(entry)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        below = [pid for pid, parent in parents.items() if parent in frontier]
        found.extend(below)
        frontier = below
    return found


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().split(b"\0")
    except OSError:
        return "?"
    return " ".join(word.decode(errors="replace") for word in words if word)[:120].replace("\t", " ")


def reap():
    """Collect every child that ended: {pid: its exit code, subprocess style}."""
    ended = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended[pid] = os.waitstatus_to_exitcode(status)


def start(command, settings):
    """The script, as this process's child: its limits are ours, set before the fork."""
    for name, value in settings.items():
        if name.startswith("RLIMIT_"):
            resource.setrlimit(getattr(resource, name), (int(value), int(value)))
    child = os.fork()
    if child:
        return child
    try:
        for each in (*PASSED_ON, signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores the last two
            signal.signal(each, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        if "uid" in settings:  # as root in a sandbox: the script runs as a user of its own
            os.setgroups([])
            os.setgid(int(settings["uid"]))
            os.setuid(int(settings["uid"]))
        os.execvp(command[0], command)
    except OSError as error:
        os.write(2, f"the grader could not start {command[0]}: {error}\n".encode())
    os._exit(127)


class Status:
    """The pipe to the grader; a grader gone (the pipe closed) is no reason to fail."""

    def __init__(self, fd):
        os.set_inheritable(fd, False)
        self.fd = fd

    def write(self, line):
        try:
            os.write(self.fd, line.encode())
        except OSError:
            pass


def main(argv):
    status = Status(int(argv[0]))
    settings = dict(word.partition("=")[::2] for word in argv[1].split(",") if word)
    command = argv[2:]
    if "undumpable" in settings or "subreaper" in settings:
        import ctypes  # only then: it costs a few milliseconds before every script

        libc = ctypes.CDLL(None, use_errno=True)
        if "undumpable" in settings:  # no script of the same user may open our status pipe
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        if "subreaper" in settings:  # a double-forked daemon comes to us, not to PID 1
            libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD, *PASSED_ON])
    script = start(command, settings)
    status.write(f"pid {script}\n")
    code = None
    while code is None:
        caught = signal.sigtimedwait([signal.SIGCHLD, *PASSED_ON], 1.0)
        if caught and caught.si_signo in PASSED_ON:
            try:
                os.kill(script, caught.si_signo)  # as `kill PID` would: the script, not its group
            except ProcessLookupError:
                pass
        code = reap().get(script)
    status.write(f"exit {code}\n")
    deadline = time.monotonic() + LEFTOVER_GRACE
    while processes_below(os.getpid()) and time.monotonic() < deadline:
        signal.sigtimedwait([signal.SIGCHLD], 0.05)
        reap()
    left = processes_below(os.getpid())
    if left:
        status.write("left " + "\t".join(command_line(pid) for pid in left) + "\n")
    for _ in range(200):  # a process forking as fast as it can is outrun within these rounds
        left = processes_below(os.getpid())
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)
        reap()
    status.write("done\n")
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
