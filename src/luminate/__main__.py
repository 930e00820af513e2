from __future__ import annotations

import sys

from luminate.cli.main import main

sys.exit(main())
