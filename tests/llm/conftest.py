import pytest

from llm_fixtures import tiny_model


@pytest.fixture(scope="session")
def llama():
    return tiny_model("llama")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
