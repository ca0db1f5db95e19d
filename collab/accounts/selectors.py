from __future__ import annotations

import uuid

from collab.accounts.models import User


def user_get_active(*, user_id: uuid.UUID | str) -> User | None:
    return User.objects.filter(id=user_id, is_active=True).first()


def user_find(*, user_id: uuid.UUID | None = None, email: str | None = None) -> User | None:
    users = User.objects.filter(is_active=True)
    if user_id is not None:
        return users.filter(id=user_id).first()
    if email:
        return users.filter(email__iexact=email.strip()).first()
    return None
