"""_binding.check: the one mapping of the core's status codes (native/include/socketify.h)
to Python, one exception type per kind of misuse."""

import errno

import pytest

from socketify._binding import check, ffi, lib


def test_success_and_non_negative_results_took_effect():
    assert check(lib.SK_OK) is True
    assert check(1) is True  # e.g. sk_app_publish: 1 when the topic has subscribers


def test_a_stale_handle_is_a_documented_no_op():
    assert check(lib.SK_ERR_STALE) is False


def test_a_bad_argument_is_a_value_error_saying_which():
    with pytest.raises(ValueError, match="^bad header$"):
        check(lib.SK_ERR_INVALID, invalid="bad header")
    with pytest.raises(ValueError, match="invalid argument"):
        check(lib.SK_ERR_INVALID)


def test_a_call_out_of_order_or_from_a_callback_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="^too late$"):
        check(lib.SK_ERR_STATE, state="too late")
    with pytest.raises(RuntimeError, match="inside one of its own callbacks"):
        check(lib.SK_ERR_BUSY)


def test_no_memory_is_a_memory_error():
    with pytest.raises(MemoryError):
        check(lib.SK_ERR_NOMEM)


def test_a_failed_system_call_is_an_os_error_with_its_errno():
    ffi.errno = errno.EMFILE
    with pytest.raises(OSError) as raised:
        check(lib.SK_ERR_SYSTEM)
    assert raised.value.errno == errno.EMFILE


def test_an_unknown_status_is_not_taken_for_success():
    with pytest.raises(RuntimeError, match="status -99"):
        check(-99)
