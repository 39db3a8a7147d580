"""User-facing error types.

Every mistake a user can make (a bad config key, a missing file, a label value out of range)
raises one of these with a message that names the file or key and the fix. The CLI prints the
message alone; ``--debug`` shows the traceback.
"""


class SeglabError(Exception):
    """Base class of errors caused by user input rather than by a bug in seglab."""


class ConfigError(SeglabError):
    """A config file, key or value is wrong."""


class DatasetError(SeglabError):
    """Dataset files are missing, unreadable or inconsistent."""


class CheckpointError(SeglabError):
    """A checkpoint cannot be found, downloaded or loaded."""


class TrainingError(SeglabError):
    """Training cannot go on (a non-finite loss); the last good checkpoint is kept."""


class TrainingInterrupted(SeglabError):
    """SIGTERM/SIGINT stopped training after a resumable checkpoint was saved; the CLI exits 128 + signal."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


def install_hint(package: str, extra: str) -> str:
    """How to install an optional package: by its own name, or as the seglab extra that lists it (a clone
    installs extras with ``-e .``; ``pip install 'seglab[...]'`` would look for seglab on the package index)."""
    return f"pip install {package} (or, in your seglab clone, pip install -e '.[{extra}]')"
