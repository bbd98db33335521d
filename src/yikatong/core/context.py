"""Per-request context (client address, acting user) that services read without passing the request."""

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestInfo:
    client_ip: str = ""
    user_id: int | None = None


_current: contextvars.ContextVar[RequestInfo] = contextvars.ContextVar("yikatong_request", default=RequestInfo())  # noqa: B039 - frozen


def current() -> RequestInfo:
    return _current.get()


def set_current(info: RequestInfo) -> contextvars.Token:
    return _current.set(info)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)
