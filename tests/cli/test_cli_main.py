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
    from cli.common import radarsp_version

    assert version.output.strip() == f"radarsp, version {radarsp_version()}"


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


def test_unwritable_output_directory_is_one_line_and_status_1(tmp_path):
    import os

    import radarsp
    from tests.conftest import make_csi

    if os.geteuid() == 0:
        # root ignores directory permissions; a path under a regular file fails the same way
        blocked = tmp_path / "file"
        blocked.write_text("")
        output = blocked / "out.nc"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        output = locked / "out.nc"
    source = radarsp.save(make_csi(), tmp_path / "s.nc")
    # --window none: a Hann taper over make_csi's 3 receive elements is refused (a usage error)
    result = CliRunner().invoke(main, ["heatmap", str(source), "-o", str(output), "--window",
                                       "none"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1
