import pytest
import torch

from toyhelpers.device import pick_device, set_cpu_threads
from toyhelpers.notebook import fast_mode


def test_explicit_cpu_and_env_override(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("TOYHELPERS_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        pick_device("cuda")


def test_unknown_device_lists_the_choices():
    with pytest.raises(ValueError, match="use 'auto', 'cpu', 'cuda'"):
        pick_device("tpu")


def test_cpu_threads_are_set_only_when_asked():
    before = torch.get_num_threads()
    try:
        assert set_cpu_threads(torch.device("cpu")) == before
        assert set_cpu_threads(torch.device("cpu"), 1) == 1
        with pytest.raises(ValueError, match="threads must be a positive int"):
            set_cpu_threads(torch.device("cpu"), 0)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    "value, expected", [("1", True), ("true", True), ("", False), ("0", False)]
)
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("TOYHELPERS_FAST", value)
    assert fast_mode() is expected
