from __future__ import annotations

import signal
import sys

from testbed.clickhouse.cli import main

if __name__ == "__main__":
    # Like nohup: the servers `up` starts outlive the terminal it ran in (they inherit this).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sys.exit(main())
