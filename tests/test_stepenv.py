"""stepenv: a parent's failed ONBUILD trigger found from the builder's message, and what a
rebuilt environment retries."""

from __future__ import annotations

from dbugbuild.debug.stepenv import Trigger, failed_trigger, reconstruct

BASH = ["/bin/bash", "-o", "pipefail", "-c"]


def test_failed_trigger_shell_form_through_the_image_shell() -> None:
    config = {"Shell": BASH, "OnBuild": ["RUN true", "RUN false | true"]}
    assert failed_trigger("/bin/bash -o pipefail -c false | true", config) == Trigger(
        "false | true", (*BASH, "false | true"), exec_form=False
    )


def test_failed_trigger_exec_form() -> None:
    config = {"OnBuild": ["COPY . /app", 'RUN ["/bin/ls", "/no such"]']}
    # The message joins argv with spaces: only the image's triggers tell "/no such" is one word.
    assert failed_trigger("/bin/ls /no such", config) == Trigger(
        '["/bin/ls", "/no such"]', ("/bin/ls", "/no such"), exec_form=True
    )


def test_failed_trigger_unmatched_shell_form_by_prefix() -> None:
    assert failed_trigger("/bin/sh -c exit 5", {"OnBuild": None}) == Trigger(
        "exit 5", ("/bin/sh", "-c", "exit 5"), exec_form=False
    )
    assert failed_trigger("/app/check --all", {}) is None


def test_reconstruct_copy_has_nothing_to_retry() -> None:
    env = reconstruct("sha256:x", {"User": "1234"}, None, (), None, command="ls -la /dest/")
    assert (env.command, env.argv, env.user) == ("ls -la /dest/", None, "1234")


def test_reconstruct_trigger_retries_as_it_ran() -> None:
    trigger = Trigger("exit 5", ("/bin/sh", "-c", "exit 5"), exec_form=False)
    env = reconstruct("sha256:x", {}, None, (), None, trigger=trigger)
    assert (env.command, env.argv, env.exec_form) == ("exit 5", ("/bin/sh", "-c", "exit 5"), False)
