import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The policy tests' models are tiny: a second thread buys nothing, and on a busy
    machine OpenMP threads waiting on each other cost ten times the wall time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
