"""The contact as the pure domain sees it (also the shape `simulate --contact` accepts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_set = object.__setattr__  # how pydantic itself fills a model without validating


class ContactView(BaseModel):
    """A contact's fields, tags and flags: what conditions, templates and the machine read."""

    model_config = ConfigDict(extra="ignore")

    id: int | None = None
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    company: str | None = None
    owner: str | None = None  # the owner's email
    lead_source: str | None = None
    disposition: str | None = None
    tags: list[str] = Field(default_factory=list)
    fields: dict[str, Any] = Field(default_factory=dict)
    dnc: bool = False
    sms_opted_out: bool = False
    email_unsubscribed: bool = False
    email_bounced: bool = False
    external_id: str | None = None
    # Computed from history (services.contacts.computed); conditions compare them.
    last_contacted_at: datetime | None = None
    last_contacted_mode: str = "not_contacted"
    last_activity_type: str | None = None
    last_activity_at: datetime | None = None
    # The email's domain is on the do-not-contact list (`reach.domain_blocked`).
    domain_dnc: bool = False

    @classmethod
    def trusted(cls, values: dict[str, Any]) -> ContactView:
        """A view of values that are already the right types (a contact row of ours).

        `values` must hold every field and becomes the view's own storage. This is what
        `model_construct` does without its per-field defaults pass, which the worker would
        otherwise pay for every enrollment it advances.
        """
        view = cls.__new__(cls)
        _set(view, "__dict__", values)
        _set(view, "__pydantic_fields_set__", set(values))
        _set(view, "__pydantic_extra__", None)
        _set(view, "__pydantic_private__", None)
        return view

    def updated(self, **changes: Any) -> ContactView:
        """A copy with some fields changed (values of the right types: no validation).

        What `model_copy(update=...)` does, without its per-call overhead: the worker makes
        one for every contact change a step makes.
        """
        return ContactView.trusted({**self.__dict__, **changes})

    def value(self, name: str) -> Any:
        """A field by name: a built-in attribute, else a custom field (`fields.x` or `x`)."""
        if name.startswith("fields."):
            return self.fields.get(name.removeprefix("fields."))
        if name in type(self).model_fields:
            return getattr(self, name)
        return self.fields.get(name)

    def template_vars(self) -> dict[str, Any]:
        """What `{{ contact.* }}` sees in templates."""
        data = self.model_dump()
        data["full_name"] = f"{self.first_name} {self.last_name}".strip()
        data.update({k: v for k, v in self.fields.items() if k not in data})
        return data


# Events that set a contact's flags, and the flag each one sets.
FLAG_EVENTS = {
    "unsubscribed": ("email_unsubscribed", True),
    "complained": ("email_unsubscribed", True),  # a spam complaint unsubscribes
    "bounced": ("email_bounced", True),
    "sms_opted_out": ("sms_opted_out", True),
    "sms_opted_in": ("sms_opted_out", False),
    "dnc": ("dnc", True),
}


def with_flags_of(contact: ContactView, event_type: str) -> ContactView:
    """The contact after an event that sets a flag (unsubscribed, bounced, STOP, DNC)."""
    change = FLAG_EVENTS.get(event_type)
    if change is None:
        return contact
    return contact.model_copy(update={change[0]: change[1]})
