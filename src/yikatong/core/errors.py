"""Domain errors: every refusal carries a message a person can act on (in Chinese, for the UI)."""


class DomainError(Exception):
    """A business rule refused the action. `message` says what is wrong and what to do."""

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code

    def __str__(self) -> str:
        return self.message


class ScopeError(DomainError):
    """The user tried to see or change something outside their region or organization."""

    def __init__(self, message: str = "无权访问：该数据不在您的管辖范围内。", **kwargs):
        super().__init__(message, code=kwargs.pop("code", "out_of_scope"), **kwargs)


class TransitionError(DomainError):
    """A workflow object cannot move from its current state to the requested one."""
