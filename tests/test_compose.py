"""dbugbuild.compose on what compose 2.26.1 printed (tests/fixtures/compose/): the model, the
order `docker compose build` builds in, each build key's meaning, and compose's messages.
Pure: no compose CLI, no daemon. (tests/test_compose_daemon.py builds real projects.)"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES
from dbugbuild import backends, compose
from dbugbuild.compose.output import error_line, major_version, messages
from dbugbuild.engine.compose import _config_error
from dbugbuild.errors import BadInputError, ExitCode, NoInputError, UsageError
from dbugbuild.options import BuildOptions

CONFIG = FIXTURES / "compose" / "config"
ROOT = "/tmp/dbugbuild-compose-fixtures"  # where tests/record_compose.py ran compose
CASES = sorted(p.name.removesuffix(".meta.json") for p in CONFIG.glob("*.meta.json"))


def _meta(case: str) -> dict[str, Any]:
    return json.loads((CONFIG / f"{case}.meta.json").read_text())  # type: ignore[no-any-return]


def _project(case: str) -> compose.Project:
    return compose.project(json.loads((CONFIG / f"{case}.out").read_text()))


def _plan(
    case: str, service: str, cwd: str | None = None, base: BuildOptions | None = None
) -> compose.ServicePlan:
    proj = _project(case)
    found = proj.service(service)
    assert found is not None
    project_dir = Path(_meta(case)["cwd"])
    return compose.plan(found, proj, cwd or str(project_dir), base or BuildOptions())


def test_compose_recordings_are_of_compose_2_26_1() -> None:
    assert CASES, "no recordings"
    for case in CASES:
        assert _meta(case)["compose_version"] == "2.26.1-4", case
    versions = json.loads((CONFIG / "version.json").read_text())
    assert versions == {"docker compose": "2.26.1-4", "docker-compose": "2.26.1-4"}


@pytest.mark.parametrize("case", [c for c in CASES if _meta(c)["exit_code"] == 0])
def test_compose_model_reads_every_recorded_project(case: str) -> None:
    data = json.loads((CONFIG / f"{case}.out").read_text())
    proj = compose.project(data)
    assert proj.name == data["name"]
    assert [s.name for s in proj.services] == sorted(data["services"])
    for service in proj.services:
        assert (service.build is None) == ("build" not in data["services"][service.name])


def test_compose_model_refuses_what_compose_never_prints() -> None:
    with pytest.raises(compose.ComposeModelError):
        compose.project({"name": "x", "services": []})
    with pytest.raises(compose.ComposeModelError):
        compose.project({"services": {}})
    with pytest.raises(compose.ComposeModelError):
        compose.project({"name": "x", "services": {"a": {"build": "."}}})
    assert compose.ComposeModelError("x").exit_code == ExitCode.BAD_INPUT


# -- every build key -------------------------------------------------------------------------


def test_compose_plan_maps_every_key_of_the_all_keys_service() -> None:
    plan = _plan("all-keys", "web")
    extra = f"{ROOT}/all-keys/extra"
    assert plan.build == BuildOptions(
        context="web",
        file="web/sub/Dockerfile.web",
        tags=("allkeys-web", "allkeys-web:extra"),
        build_args=("EMPTY=", "FROM_ENV=from-the-environment", "GREETING=hello"),
        target="final",
        no_cache=True,
        pull=True,
        network="host",
        platform="linux/amd64,linux/arm64",
        labels=("org.example.team=web",),
        secrets=(f"id=tok,src={ROOT}/all-keys/tok.txt", "id=npmrc,env=NPM_TOKEN"),
        ssh=("default",),
        build_contexts=("base=docker-image://busybox:latest", f"extra={extra}"),
        add_hosts=("somehost:162.242.195.82", "v6host:::1"),
        shm_size="134217728",
        cache_from=("busybox:latest", "type=local,src=/tmp/cache"),
    )
    assert plan.image == "allkeys-web"
    assert plan.inline is None
    # What dbugbuild cannot honour is named, each key once, never dropped unsaid.
    assert [n.split(" is not honoured")[0] for n in plan.notes] == [
        "build.cache_to of service web",
        "build.isolation of service web",
        "build.privileged of service web",
        "build.secrets of service web",  # the mode of secret envtok
        "build.ulimits of service web",
    ]
    assert "mode of secret envtok" in plan.notes[3]


def test_compose_plan_args_list_form_and_the_environment() -> None:
    # `args: [ONE=1, TWO]`: TWO is the environment's, as compose resolved it...
    assert _plan("all-keys", "api").build.build_args == ("ONE=1", "TWO=2")
    # ...and left out when the environment does not set it (compose prints no null).
    assert _plan("all-keys.unset-env", "api").build.build_args == ("ONE=1",)
    web = _plan("all-keys.unset-env", "web").build.build_args
    assert web == ("EMPTY=", "GREETING=hello")


def test_compose_plan_null_arg_is_left_to_the_docker_cli() -> None:
    proj = _project("all-keys")
    api = proj.service("api")
    assert api is not None and api.build is not None
    bare = replace(api, build={**api.build, "args": {"ONE": "1", "FROM_SHELL": None}})
    plan = compose.plan(bare, proj, f"{ROOT}/all-keys", BuildOptions())
    assert plan.build.build_args == ("ONE=1", "FROM_SHELL")  # docker takes it from the env


def test_compose_plan_image_names_the_build_else_project_dash_service() -> None:
    api = _plan("all-keys", "api")
    assert (api.image, api.build.tags, api.build.context, api.build.file) == (
        "example/api:1.2",
        ("example/api:1.2",),
        "api",
        "api/Dockerfile",
    )
    assert _plan("override.project-name", "app").build.tags == ("other-name-app",)
    assert _plan("override", "app").build.tags == ("override-app",)


def test_compose_plan_service_platform_when_build_has_none() -> None:
    assert _plan("all-keys", "plat").build.platform == "linux/arm64"
    assert _plan("all-keys", "web").build.platform == "linux/amd64,linux/arm64"


def test_compose_plan_dockerfile_inline_has_no_file() -> None:
    plan = _plan("all-keys", "inline")
    assert (plan.build.file, plan.build.context) == (None, ".")
    assert plan.inline == "FROM busybox\nRUN echo inline\n"


def test_compose_plan_keeps_the_command_line_options() -> None:
    base = BuildOptions(no_cache=True, pull=True, backend="buildkit")
    plan = _plan("all-keys", "api", base=base)
    assert (plan.build.no_cache, plan.build.pull, plan.build.backend) == (True, True, "buildkit")
    plain = _plan("all-keys", "api")
    assert (plain.build.no_cache, plain.build.pull, plain.build.backend) == (False, False, "auto")


def test_compose_plan_paths_outside_the_working_directory_stay_absolute() -> None:
    plan = _plan("all-keys", "api", cwd="/somewhere/else")
    assert (plan.build.context, plan.build.file) == (
        f"{ROOT}/all-keys/api",
        f"{ROOT}/all-keys/api/Dockerfile",
    )
    assert _plan("all-keys", "api", cwd=f"{ROOT}/all-keys/api").build.context == "."
    assert compose.shown_path(f"{ROOT}/all-keys2", f"{ROOT}/all-keys") == f"{ROOT}/all-keys2"


def test_compose_plan_unknown_key_is_named_and_x_keys_are_extensions() -> None:
    proj = _project("all-keys")
    api = proj.service("api")
    assert api is not None and api.build is not None
    newer = replace(api, build={**api.build, "provenance": True, "x-bake": {"tags": ["t"]}})
    plan = compose.plan(newer, proj, f"{ROOT}/all-keys", BuildOptions())
    assert plan.notes == (
        "build.provenance of service api is not honoured: dbugbuild does not know this key "
        "(newer than compose 2.26?)",
    )


@pytest.mark.parametrize(
    ("case", "args", "target"),
    [
        # .env sets FROM_DOTENV and TARGET; a default fills the rest.
        ("interpolation", ("FROM_DOTENV=from-dot-env", "FROM_ENV_FILE=not-overridden",
                           "WITH_DEFAULT=the-default"), "test"),
        # --env-file replaces .env.
        ("interpolation.env-file", ("FROM_DOTENV=from-other-env", "FROM_ENV_FILE=from-env-file",
                                    "WITH_DEFAULT=the-default"), "build"),
        # The environment wins over .env.
        ("interpolation.environment-wins", ("FROM_DOTENV=from-shell",
                                            "FROM_ENV_FILE=not-overridden",
                                            "WITH_DEFAULT=the-default"), "test"),
    ],
)  # fmt: skip
def test_compose_plan_interpolation_is_composes(
    case: str, args: tuple[str, ...], target: str
) -> None:
    plan = _plan(case, "app")
    assert (plan.build.build_args, plan.build.target) == (args, target)


def test_compose_plan_override_files_change_the_target() -> None:
    assert _plan("override", "app").build.target == "dev"  # compose.override.yaml
    assert _plan("override", "app").build.build_args == ("MODE=dev",)
    assert _plan("override.files", "app").build.target == "ci"  # -f compose.yaml -f ci.yaml
    assert _plan("override.files", "app").build.build_args == ("MODE=prod",)


def test_compose_plan_extends_and_include() -> None:
    child = _plan("extends-include", "child")
    assert (child.build.context, child.build.file, child.build.target) == (
        "base",
        "base/Dockerfile.common",
        "child",
    )
    assert child.build.build_args == ("FROM_BASE=yes",)
    assert _plan("extends-include", "included").build.file == "inc/Dockerfile"


def test_compose_plan_refuses_a_git_context() -> None:
    with pytest.raises(UsageError, match=r"builds from https://github\.com/docker/compose\.git"):
        _plan("git-context", "remote")


def test_compose_plan_refuses_an_external_build_secret() -> None:
    with pytest.raises(UsageError, match="secret 'ext' is neither a file nor an environment"):
        _plan("errors.external-secret", "app")


def test_compose_plan_buildkit_keys_pick_buildkit() -> None:
    web = _plan("all-keys", "web").build
    choice = backends.choose_for(web, None, None, None)
    reason = "--secret is an option only BuildKit has"
    assert (choice.backend, choice.reason) == ("buildkit", reason)
    api = _plan("all-keys", "api").build
    assert backends.choose_for(api, None, None, None).backend == "classic"
    several = replace(api, platform="linux/amd64,linux/arm64")
    assert backends.choose_for(several, None, None, None).reason.startswith("several platforms")


# -- the order of the builds -------------------------------------------------------------------


def _order(case: str, names: tuple[str, ...] = ()) -> list[str]:
    return [s.name for s in compose.build_order(_project(case), names)]


def test_compose_order_is_dependencies_first_then_names() -> None:
    assert _order("depends") == ["a", "b", "c"]  # c depends on b, b on a; cache has no build
    assert _order("depends.profile") == ["a", "b", "c", "tools"]
    assert _order("depends.named", ("c",)) == ["c"]  # only the named, as compose build does
    assert _order("depends.named-in-profile", ("tools",)) == ["tools"]
    assert _order("depends", ("c", "a")) == ["a", "c"]


def test_compose_order_refuses_unknown_and_buildless_services() -> None:
    with pytest.raises(UsageError, match="no service 'web' in the compose project depends"):
        _order("depends", ("web",))
    with pytest.raises(UsageError, match="service 'cache' has no build section"):
        _order("depends", ("cache",))
    nothing = compose.Project("p", (compose.Service("db", None, "busybox", None, ()),), {})
    with pytest.raises(UsageError, match="no service of the compose project p has a build"):
        compose.build_order(nothing, ())


# -- compose's messages ------------------------------------------------------------------------


def _stderr(case: str) -> str:
    return (CONFIG / f"{case}.stderr").read_text()


def test_compose_output_warnings_are_its_logrus_lines() -> None:
    said = messages(_stderr("errors.unset-var"))
    assert [m.level for m in said] == ["warning", "warning"]
    assert said[0].text == (
        'The "UNSET_TOKEN_FOR_DBUGBUILD" variable is not set. Defaulting to a blank string.'
    )
    assert _meta("errors.unset-var")["exit_code"] == 0


@pytest.mark.parametrize(
    ("case", "kind", "words"),
    [
        ("errors.missing-var", BadInputError, "required variable REGISTRY is missing a value"),
        ("errors.bad-yaml", BadInputError, "yaml: line 1: did not find expected key"),
        ("errors.bad-project-name", BadInputError, 'invalid project name "Other_Name"'),
        ("errors.ssh-key", BadInputError, "MarshalJSON for type types.SSHKey"),
        ("errors.no-file", NoInputError, "no configuration file provided: not found"),
        ("errors.missing-file", NoInputError, "errors/nope.yaml: no such file or directory"),
        ("errors.missing-env-file", NoInputError, "Couldn't find env file"),
        ("depends.unknown-service", UsageError, "no such service: nosuch"),
    ],
)
def test_compose_errors_are_one_line_with_composes_words(
    case: str, kind: type[Exception], words: str
) -> None:
    meta = _meta(case)
    assert meta["exit_code"] != 0
    assert (CONFIG / f"{case}.out").read_text() == ""
    error = _config_error(error_line(_stderr(case), meta["exit_code"]))
    assert type(error) is kind
    assert words in str(error)
    assert "\n" not in str(error)


def test_compose_ssh_key_error_says_what_works() -> None:
    error = _config_error(error_line(_stderr("errors.ssh-key"), 1))
    assert "ssh: [default]" in str(error)


def test_compose_version_major() -> None:
    versions = json.loads((CONFIG / "version.json").read_text())
    assert major_version(versions["docker compose"]) == 2
    # Compose v1's `version --short` (docker-compose 1.29.2, bookworm's), and v2's "v" form.
    assert [major_version(v) for v in ("1.29.2", "v2.27.0", "", "dev")] == [1, 2, None, None]
