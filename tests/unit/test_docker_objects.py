"""The docker SDK recipes: what "not there" and "in use" mean to the packages above the facade."""

from __future__ import annotations

import docker.errors
import pytest
import requests

from svcctl.docker.objects import is_conflict, or_none, remove


def api_error(status: int) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    cls = docker.errors.NotFound if status == 404 else docker.errors.APIError
    return cls("engine says no", response=response)


class Volume:
    def __init__(self, *answers: BaseException | None) -> None:
        self.answers = list(answers)
        self.calls: list[dict] = []

    def remove(self, **options: object) -> None:
        self.calls.append(options)
        answer = self.answers.pop(0)
        if answer is not None:
            raise answer


def test_a_missing_object_is_none_and_a_present_one_is_itself():
    def get(name: str) -> str:
        if name == "gone":
            raise docker.errors.ImageNotFound("no such image")  # a NotFound too
        return name.upper()

    assert or_none(get, "here") == "HERE"
    assert or_none(get, "gone") is None


def test_other_engine_errors_are_not_swallowed():
    def get() -> None:
        raise api_error(500)

    with pytest.raises(docker.errors.APIError):
        or_none(get)


def test_only_an_http_409_is_a_conflict():
    assert is_conflict(api_error(409))
    assert not is_conflict(api_error(500)) and not is_conflict(api_error(404)) and not is_conflict(OSError())


def test_removing_what_is_already_gone_is_done():
    volume = Volume(api_error(404))
    remove(volume, force=True)
    assert volume.calls == [{"force": True}]


def test_an_object_in_use_is_tried_again_until_the_attempts_are_spent():
    volume = Volume(api_error(409), None)
    remove(volume, attempts=2)
    assert len(volume.calls) == 2
    stubborn = Volume(api_error(409), api_error(409))
    with pytest.raises(docker.errors.APIError):
        remove(stubborn, attempts=2)
    assert len(stubborn.calls) == 2
