"""The batched decode loop (assistant/backends/decode.py) on the tiny random dialog model:
requests decoded together get the tokens they get alone, share prompt prefixes, and a failed
or abandoned request does not disturb the others."""

from __future__ import annotations

import threading

import pytest
import torch

from assistant.backends.decode import Decoder, Sampling
from assistant.backends.local import load_model


@pytest.fixture(scope="module")
def model(tiny_dialog_model):
    return load_model(tiny_dialog_model, "fp32")[1]


def _prompts(count: int) -> list[list[int]]:
    """Prompts of different lengths, so the batch pads its rows."""
    generator = torch.Generator().manual_seed(0)
    return [torch.randint(10, 1000, (20 + 13 * i,), generator=generator).tolist()
            for i in range(count)]


def _alone(model, prompt: list[int], new: int = 12) -> list[int]:
    return list(Decoder(model).run(prompt, Sampling(max_new_tokens=new), set()))


def _wait_until(condition) -> None:
    for _ in range(3000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("timed out")


def _holding_second_step(release: threading.Event, then=None):
    """A hook that lets the first token through, then holds the scheduler until ``release``
    (so other requests can queue up and join a batch already decoding), then calls ``then``."""
    calls = []

    def hook(logits):
        calls.append(1)
        if len(calls) == 2:
            release.wait(timeout=30)
        return then(logits) if then and len(calls) > 2 else logits
    return hook


def test_requests_decoded_together_get_the_tokens_they_get_alone(model):
    prompts = _prompts(4)
    decoder = Decoder(model)
    release = threading.Event()
    first = decoder.run(prompts[0], Sampling(max_new_tokens=12), set(),
                        hook=_holding_second_step(release))
    results: list[list[int]] = [[next(first)], [], [], []]
    threads = [threading.Thread(target=lambda i=i: results[i].extend(
        decoder.run(prompts[i], Sampling(max_new_tokens=12), set()))) for i in (1, 2, 3)]
    threads.append(threading.Thread(target=lambda: results[0].extend(first)))
    for thread in threads[:3]:
        thread.start()
    _wait_until(lambda: len(decoder._waiting) + len(decoder._rows) == 4)
    release.set()
    threads[3].start()
    for thread in threads:
        thread.join(timeout=60)

    assert decoder.stats.largest_batch == 4
    assert results == [_alone(model, p) for p in prompts]


def test_a_prompt_sharing_a_finished_requests_prefix_prefills_only_the_rest(model):
    first, second = _prompts(2)
    decoder = Decoder(model)
    list(decoder.run(first, Sampling(max_new_tokens=3), set()))
    assert decoder.stats.prefilled_tokens == len(first)

    follow_up = first[:15] + second
    tokens = list(decoder.run(follow_up, Sampling(max_new_tokens=5), set()))

    assert decoder.stats.prefilled_tokens == len(first) + len(follow_up) - 15
    assert tokens == _alone(model, follow_up, new=5)


def test_a_prompt_sharing_a_request_in_flight_prefills_only_the_rest(model):
    first, other = _prompts(2)
    follow_up = first[:15] + other
    decoder = Decoder(model)
    release = threading.Event()
    stream = decoder.run(first, Sampling(max_new_tokens=6), set(),
                         hook=_holding_second_step(release))
    tokens: list[list[int]] = [[next(stream)], []]
    joining = threading.Thread(target=lambda: tokens[1].extend(
        decoder.run(follow_up, Sampling(max_new_tokens=6), set())))
    joining.start()
    _wait_until(lambda: len(decoder._waiting) + len(decoder._rows) == 2)
    release.set()
    tokens[0].extend(stream)
    joining.join(timeout=60)

    assert decoder.stats.prefilled_tokens == len(first) + len(follow_up) - 15
    assert tokens == [_alone(model, first, 6), _alone(model, follow_up, 6)]


def test_an_abandoned_request_leaves_the_batch_and_the_next_one_runs(model):
    decoder = Decoder(model)
    stream = decoder.run(_prompts(1)[0], Sampling(max_new_tokens=200), set())
    next(stream), next(stream)
    stream.close()  # the caller stops reading (a client went away)

    prompt = _prompts(2)[1]
    assert list(decoder.run(prompt, Sampling(max_new_tokens=6), set())) == _alone(model, prompt, 6)
    assert decoder._rows == []


def test_a_failing_hook_fails_its_own_request_only(model):
    decoder = Decoder(model)
    prompts = _prompts(2)
    release = threading.Event()

    calls_after_release = []

    def broken(logits):  # one step side by side with the other request, then it fails
        calls_after_release.append(1)
        if len(calls_after_release) == 2:
            raise RuntimeError("grammar broke")
        return logits

    failing = decoder.run(prompts[0], Sampling(max_new_tokens=8), set(),
                          hook=_holding_second_step(release, then=broken))
    failure: list[str] = []
    healthy: list[int] = []

    def read_failing():
        try:
            list(failing)
        except RuntimeError as error:
            failure.append(str(error))

    reader = threading.Thread(target=read_failing)
    other = threading.Thread(target=lambda: healthy.extend(
        decoder.run(prompts[1], Sampling(max_new_tokens=8), set())))
    reader.start()
    _wait_until(lambda: decoder._rows)
    other.start()
    _wait_until(lambda: len(decoder._waiting) + len(decoder._rows) == 2)
    release.set()
    reader.join(timeout=60)
    other.join(timeout=60)

    assert failure == ["grammar broke"]
    assert decoder.stats.largest_batch == 2  # it failed while both were in the batch
    assert healthy == _alone(model, prompts[1], 8)


def test_stop_tokens_and_the_token_budget_end_a_request(model):
    prompt = _prompts(1)[0]
    free = _alone(model, prompt, new=10)
    stop = free[3]
    stopped = list(Decoder(model).run(prompt, Sampling(max_new_tokens=10), {stop}))
    assert stopped == free[:free.index(stop) + 1]
    assert list(Decoder(model).run(prompt, Sampling(max_new_tokens=0), set())) == []
