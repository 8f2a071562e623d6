"""`clean_errors`: what the `ape run` commands print for a contract call the chain refuses (a deployment record or
an option naming the wrong contract): one line, never a traceback."""

from __future__ import annotations

import click
import pytest
from ape.exceptions import ContractLogicError

from zkfl_dapp.apps.cli import clean_errors


def test_a_refused_contract_call_is_one_clear_line() -> None:
    @clean_errors
    def command() -> None:
        raise ContractLogicError("execution reverted\n  (a long trace the user does not need)")

    with pytest.raises(click.ClickException) as err:
        command()
    message = err.value.message
    assert "\n" not in message and "ContractLogicError: execution reverted" in message
    assert "is every address this command uses" in message
