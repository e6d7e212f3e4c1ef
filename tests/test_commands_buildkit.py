"""The session's commands where the layer is a BuildKit prefix build, in memory: the banner
says what is emulated, `:failed` offers to run the step (BuildKit keeps no failed state),
and a typed heredoc runs its body as BuildKit would."""

from __future__ import annotations

from dataclasses import replace

from dbugbuild.debug.commands import Commands, Subject
from dbugbuild.debug.layer import CommandResult
from dbugbuild.debug.stepenv import StepEnv
from test_commands import IMAGE, MemoryLayer

HEREDOC = "<<EOT\nmake all\nEOT"


def _layer() -> MemoryLayer:
    env = StepEnv(
        image=IMAGE,
        command=HEREDOC,
        argv=("/bin/sh", "-c", "make all\n"),
        exec_form=False,
        shell=("/bin/sh", "-c"),
        env=("PATH=/bin",),
        user="",
        workdir="/src",
        network=None,
        source="prefix build",
        emulated=(
            "mount: cache '/root/.cache' at /root/.cache: a volume ...",
            "mount: tmpfs at /t",
        ),
        heredocs=True,
    )
    return MemoryLayer(env, results={"make all\n": CommandResult(2, "make: *** Error 2\n", 0.5)})


def _commands(layer: MemoryLayer, answers: list[bool]) -> tuple[Commands, list[str]]:
    said: list[str] = []
    subject = Subject(
        "Dockerfile:3", "RUN failed with exit code 2", IMAGE, None, builder="buildkit"
    )
    commands = Commands(layer, subject, said.append)

    def ask(question: str) -> bool:
        said.append(question + " [y/N]")
        return answers.pop(0)

    commands.ask = ask
    return commands, said


def test_banner_says_the_prefix_build_and_what_is_emulated() -> None:
    commands, _ = _commands(_layer(), [])
    banner = commands.banner()
    assert "(buildkit keeps no intermediate images: built up to the failing line)" in banner
    assert "env from: prefix build" in banner
    assert (
        "\n  mount: cache '/root/.cache' at /root/.cache: a volume ...\n  mount: tmpfs at /t\n"
        in banner
    )


def test_failed_offers_to_reproduce_then_shows_the_files() -> None:
    layer = _layer()
    commands, said = _commands(layer, [True])
    layer.files["/src/build.o"] = "A"
    assert commands.command(":failed") is None
    assert said[0] == "buildkit keeps no failed state: no container, no layer of the failed step.\n"
    assert said[1] == "Reproduce it by running the failed step here? [y/N]"
    assert layer.ran == [("/bin/sh", "-c", "make all\n")]  # what BuildKit ran
    assert "make: *** Error 2\n" in said and "-- exit code 2 (0.5s)\n" in said
    assert said[-1] == "A /src/build.o\n"  # then :diff
    assert commands.ran == [HEREDOC]


def test_failed_declined_runs_nothing() -> None:
    layer = _layer()
    commands, said = _commands(layer, [False])
    commands.command(":failed shell")
    assert layer.ran == [] and said[-1].startswith("not run; Enter at the prompt runs it")


def test_failed_on_a_step_that_ran_nothing() -> None:
    layer = _layer()
    layer.env = replace(layer.env, argv=None, command="ls -la /dest")
    commands, said = _commands(layer, [])
    commands.command(":failed")
    assert said[-1] == "the failed step ran no command to reproduce it with\n"


def test_typed_heredoc_runs_its_body_where_the_step_is_buildkits() -> None:
    layer = _layer()
    commands, _ = _commands(layer, [])
    commands.execute(HEREDOC)
    commands.execute("cat <<EOF > /x\nhi\nEOF")
    assert layer.ran == [
        ("/bin/sh", "-c", "make all\n"),  # a lone heredoc: its body, as BuildKit runs it
        ("/bin/sh", "-c", "cat <<EOF > /x\nhi\nEOF"),  # the shell reads this one itself
    ]
    classic = replace(layer.env, heredocs=False)
    assert classic.argv_for(HEREDOC) == ("/bin/sh", "-c", HEREDOC)
