"""The one error every component raises for bad arguments: each problem names its key path."""

from collections.abc import Sequence


class ConfigError(Exception):
    """Arguments (or the stack configuration they come from) break a rule; one line per
    problem, each starting with the camelCase key path, so every language's user reads the
    names they wrote."""

    def __init__(self, problems: Sequence[str], subject: str = "stack configuration") -> None:
        self.problems = list(problems)
        super().__init__(f"invalid {subject}:\n" + "\n".join(f"  {p}" for p in self.problems))


def refuse(problems: Sequence[str], subject: str) -> None:
    """Raise :class:`ConfigError` for ``subject`` if there is any problem."""
    if problems:
        raise ConfigError(problems, subject)
