"""Drive an interactive command (`sam deploy --guided`) through a pseudo-terminal, as a person at a
keyboard would: read until the command asks something, answer, repeat. Each prompt is recorded with
the default it offered, so a test can check what the user was shown."""

import fcntl
import os
import re
import select
import subprocess
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: a prompt is the last, unfinished line: "<label> [<default>]: " or "<label>: " (click's format)
PROMPT = re.compile(r"(?:^|\n)[ \t]*(?P<label>[A-Za-z#][^\n\[\]]*?)(?: \[(?P<default>[^\]\n]*)\])?: $")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class Prompt:
    label: str
    default: str | None  # None: the prompt offered no default


@dataclass
class Conversation:
    prompts: list[Prompt] = field(default_factory=list)
    transcript: str = ""
    returncode: int | None = None

    def default_of(self, label: str) -> str | None:
        (found,) = [p.default for p in self.prompts if p.label == label]
        return found

    def labels(self) -> list[str]:
        return [p.label for p in self.prompts]


def _controlling_terminal() -> None:  # runs in the child, before exec: the pty becomes its terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def converse(
    command: list[str],
    answer: Callable[[Prompt], str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float = 120,
    max_prompts: int = 120,
) -> Conversation:
    """Run ``command`` on a terminal, answering every prompt with ``answer(prompt)``. Stops when the
    command exits, after ``max_prompts`` prompts, or when one prompt is asked three times in a row
    (the command refuses the answer) — those end the command and fail loudly."""
    main, secondary = os.openpty()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        start_new_session=True,
        preexec_fn=_controlling_terminal,  # noqa: PLW1509 - the tests run no threads of their own here
    )
    os.close(secondary)
    talk = Conversation()
    pending = ""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(main, 65536).decode(errors="replace")
            except OSError:  # EIO: the command closed its terminal (it exited)
                break
            if not chunk:
                break
            chunk = ANSI.sub("", chunk).replace("\r\n", "\n")
            talk.transcript += chunk
            pending = (pending + chunk)[-4000:]
            found = PROMPT.search(pending)
            if found is None:
                continue
            prompt = Prompt(found["label"].strip(), found["default"])
            talk.prompts.append(prompt)
            pending = ""
            if len(talk.prompts) > max_prompts:
                raise AssertionError(f"more than {max_prompts} prompts:\n{talk.transcript[-3000:]}")
            if talk.prompts[-3:] == [prompt] * 3:
                raise AssertionError(f"asked {prompt.label!r} three times: the answer was refused")
            os.write(main, (answer(prompt) + "\n").encode())
        else:
            raise AssertionError(f"{command[:3]} still running after {timeout} s:\n{talk.transcript[-3000:]}")
        talk.returncode = process.wait(timeout=30)
        return talk
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main)
