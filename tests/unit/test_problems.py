"""Problems are errors unless they say they are warnings; JSON shows the severity only on warnings."""

from __future__ import annotations

import pytest

from pipeline.errors import Problem


def test_a_problem_is_an_error_unless_it_is_a_warning() -> None:
    error = Problem("voucher A 3 does not balance", line=20, reference="A-3-2069e7b5", code="unbalanced")
    warning = Problem("voucher A 70 has only one line of 0.00", code="empty-voucher", severity="warning")
    assert error.is_error and not warning.is_error
    assert "severity" not in error.as_dict()  # unchanged for every reader of problems written before
    assert warning.as_dict() == {"message": "voucher A 70 has only one line of 0.00", "code": "empty-voucher",
                                 "severity": "warning"}


def test_there_is_no_third_severity() -> None:
    with pytest.raises(ValueError, match="severity"):
        Problem("x", severity="info")
