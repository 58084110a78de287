"""Run a command and report its peak RSS: ``python -m bench.peak_rss COMMAND...``.

The peak is measured from this small launcher, because Linux counts the memory of
the process that forked a child into that child's ru_maxrss: measured straight from
a large process (a benchmark, a test run), a small command would look large.
Prints ``cpu_s=S`` (user + system CPU seconds, the command's children included) and ``peak_rss_kb=N`` as the
last lines of stderr and exits with the command's status.
"""

import os
import sys

if __name__ == "__main__":
    pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ)
    _, status, usage = os.wait4(pid, 0)
    sys.stderr.write(f"\ncpu_s={usage.ru_utime + usage.ru_stime:.2f}\npeak_rss_kb={usage.ru_maxrss}\n")
    sys.exit(os.waitstatus_to_exitcode(status))
