import os
import signal

os.kill(os.getppid(), signal.SIGKILL)  # the process that runs it
