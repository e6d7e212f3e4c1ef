"""engine/build.plugin_binary: the file `docker NAME` would run, found in the docker CLI's
plugin folders in its order (docker/cli cli-plugins/manager), or None where the CLI could
choose otherwise. Real folders: a private DOCKER_CONFIG under tmp_path, and this machine's
system plugin folders as they are."""

from __future__ import annotations

import os
from pathlib import Path

from dbugbuild.engine.build import _SYSTEM_PLUGIN_DIRS, plugin_binary


def _plugin(folder: Path, name: str = "docker-frob", mode: int = 0o755) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(mode)
    return path


def test_the_user_s_plugin_folder_comes_first(tmp_path: Path) -> None:
    mine = _plugin(tmp_path / "cli-plugins")
    assert plugin_binary("frob", {"DOCKER_CONFIG": str(tmp_path)}) == str(mine)


def test_the_config_folder_defaults_to_home_s_docker(tmp_path: Path) -> None:
    mine = _plugin(tmp_path / ".docker" / "cli-plugins")
    assert plugin_binary("frob", {"HOME": str(tmp_path)}) == str(mine)


def test_no_such_plugin_is_none(tmp_path: Path) -> None:
    assert plugin_binary("dbugbuild-no-such-plugin", {"DOCKER_CONFIG": str(tmp_path)}) is None


def test_a_first_file_not_executable_is_left_to_the_cli(tmp_path: Path) -> None:
    """The CLI takes the first file there is and fails on it; a later one is not ours to run."""
    _plugin(tmp_path / "cli-plugins", mode=0o644)
    assert plugin_binary("frob", {"DOCKER_CONFIG": str(tmp_path)}) is None


def test_extra_plugin_folders_in_config_json_are_left_to_the_cli(tmp_path: Path) -> None:
    """config.json's cliPluginsExtraDirs are searched first by the CLI: it decides."""
    _plugin(tmp_path / "cli-plugins")
    (tmp_path / "config.json").write_text('{"cliPluginsExtraDirs": ["/opt/plugins"]}')
    assert plugin_binary("frob", {"DOCKER_CONFIG": str(tmp_path)}) is None
    (tmp_path / "config.json").write_text('{"currentContext": "default"}')
    assert plugin_binary("frob", {"DOCKER_CONFIG": str(tmp_path)}) is not None


def test_an_unreadable_config_json_is_left_to_the_cli(tmp_path: Path) -> None:
    _plugin(tmp_path / "cli-plugins")
    (tmp_path / "config.json").mkdir()  # not a file: the CLI says what it makes of it
    assert plugin_binary("frob", {"DOCKER_CONFIG": str(tmp_path)}) is None


def test_the_system_folders_follow_the_user_s(tmp_path: Path) -> None:
    """Without one of the user's, the first system folder holding the plugin (this machine's
    buildx, where there is one)."""
    installed = [
        os.path.join(d, "docker-buildx")
        for d in _SYSTEM_PLUGIN_DIRS
        if os.path.exists(os.path.join(d, "docker-buildx"))
    ]
    found = plugin_binary("buildx", {"DOCKER_CONFIG": str(tmp_path)})
    assert found == (installed[0] if installed else None)
    mine = _plugin(tmp_path / "cli-plugins", "docker-buildx")
    assert plugin_binary("buildx", {"DOCKER_CONFIG": str(tmp_path)}) == str(mine)
