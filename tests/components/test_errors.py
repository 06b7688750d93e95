"""A problem's line reads back as the same key and message (what `plan --json` reports as ``key``)."""

from components.errors import ConfigError, Problem
from components.settings_schema import REGION_KEY, SCHEMA


def test_every_settings_key_reads_back_from_its_line():
    keys = [REGION_KEY, *(setting.key for setting in SCHEMA), "deepinsight:executor.cpu"]
    for key in keys:
        message = "is a number; quote it: `tags.costCenter: '42'`"
        assert Problem.from_line(f"  {Problem(key, message)}") == Problem(key, message)


def test_a_config_error_reads_back_as_its_problems():
    problems = [Problem("deep-insight:network.cidr", "10.0.0.0/33 is not a CIDR"), Problem("aws:region", "required")]
    lines = str(ConfigError(problems)).splitlines()
    assert [Problem.from_line(line) for line in lines] == problems


def test_a_line_about_no_key_is_not_a_problem():
    assert Problem.from_line("Pulumi.dev.yaml has no 'config:' map") is None
    assert Problem.from_line("the executor needs 3 MB of environment: more than 4 KB") is None
