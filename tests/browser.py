"""Where the browser tests find a browser: Debian's chromium and chromedriver (.ci/run installs them), or
what these variables name (the GitHub workflow points them at the runner's preinstalled Chrome)."""

from __future__ import annotations

import os

BROWSER_VARIABLES = ("DEEP_INSIGHT_TEST_CHROMIUM", "DEEP_INSIGHT_TEST_CHROMEDRIVER")
CHROMIUM = os.environ.get(BROWSER_VARIABLES[0], "/usr/bin/chromium")
DRIVER = os.environ.get(BROWSER_VARIABLES[1], "/usr/bin/chromedriver")
