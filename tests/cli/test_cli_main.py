"""The `radarsp` group: help, version, lazy subcommands, error plumbing."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from cli.main import SUBCOMMANDS, main


def test_help_lists_commands_and_version():
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Commands" in result.output
    version = runner.invoke(main, ["--version"])
    assert version.exit_code == 0 and "radarsp, version" in version.output


def test_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(main, ["no-such-verb"])
    assert result.exit_code == 2


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys\n"
        "from cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print([m for m in ('torch', 'numba', 'sklearn', 'matplotlib') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]"), out.stdout


def test_every_declared_subcommand_module_exposes_command():
    import importlib.util

    for name, module in SUBCOMMANDS.items():
        if importlib.util.find_spec(module) is None:
            continue
        command = main.get_command(None, name)
        assert command is not None and command.name, name
