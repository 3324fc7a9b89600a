"""The error family. Each error knows its HTTP status and CLI exit code, so the edges
(``leadscore.cli`` and ``serving.api.app``) map them in one place and never show a traceback."""

from __future__ import annotations


class LeadscoreError(Exception):
    """Base of every error a user can cause and fix."""

    http_status: int = 400
    exit_code: int = 2


class InputError(LeadscoreError):
    """Bad input: a file, a column, a field or an option value. Exit code 2, HTTP 422."""

    http_status = 422
    exit_code = 2


class DataContractError(InputError):
    """Lead history that breaks the data contract badly enough that it cannot be used.

    The message names the table, the column and a few example rows.
    """

    def __init__(self, table: str, column: str | None, problem: str, examples: list | None = None):
        self.table = table
        self.column = column
        self.problem = problem
        self.examples = list(examples or [])[:5]
        where = f"{table}.{column}" if column else table
        example_text = f" (e.g. {', '.join(map(str, self.examples))})" if self.examples else ""
        super().__init__(f"{where}: {problem}{example_text}")


class RulesFileError(InputError):
    """An invalid hand-set rules file; the message names the rule and the problem."""


class TooFewRowsError(InputError):
    """Too few converted or unconverted rows in a part of the split (train, validation, test)
    to train, stop early or judge a model. The message names what was being trained, each
    part's counts and the minimum each needs.

    Attributes:
        subject: what was being trained (a transition, a label column).
        counts: per part, (converted, not converted) rows.
        minimum: per part, the rows each outcome needs.
    """

    def __init__(
        self, subject: str, counts: dict[str, tuple[int, int]], minimum: dict[str, int]
    ) -> None:
        self.subject = subject
        self.counts = dict(counts)
        self.minimum = dict(minimum)
        parts = ", ".join(
            f"{part} {converted}/{not_converted} (needs {minimum[part]}/{minimum[part]})"
            for part, (converted, not_converted) in counts.items()
        )
        super().__init__(
            f"{subject}: too few rows to train and test a model; converted/not converted rows "
            f"per part of the split: {parts}; more history is needed"
        )


class NoChampionError(InputError):
    """A command that uses the champions (batch scoring, the forecast) found none for a
    transition: it works with the others and names this one; with none at all, exit code 2."""


class ModelNotFoundError(LeadscoreError):
    """No trained model where one was expected (train first)."""

    http_status = 503
    exit_code = 1


class TransitionNotServedError(ModelNotFoundError):
    """A scoring request with leads that need a transition no champion serves (the service
    started with the part of the funnel that has one). HTTP 503: train that transition first.

    Attributes:
        transition: the transition without a model.
        leads: how many leads of the request need it.
    """

    def __init__(self, message: str, *, transition: str, leads: int) -> None:
        self.transition = transition
        self.leads = leads
        super().__init__(message)


class ReloadError(LeadscoreError):
    """A reload whose models loaded but could not be handed to the server's other workers (its
    shared folder could not be written); nothing changed, the old models keep serving."""

    http_status = 503
    exit_code = 1


class WorkersFailingError(LeadscoreError):
    """The server's workers keep exiting as soon as they start (the log says why)."""

    exit_code = 1
