from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower


class Role(models.TextChoices):
    STUDENT = "student", "Student"
    INSTRUCTOR = "instructor", "Instructor"
    ADMIN = "admin", "Admin"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(role=Role.ADMIN, is_staff=True, is_superuser=True)
        fields.setdefault("name", email.split("@")[0])
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, email: str) -> User:
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    """Signs in with an email address. `role` decides what the platform lets one do;
    `is_staff` only opens the Django admin (staff moderation)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=150)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT, db_index=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Every token carries the generation it was issued under; moving it on (sign-out
    # everywhere, a new password, deactivation) ends every session of the user at once
    # (collab/accounts/revocation.py).
    token_generation = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @classmethod
    def from_db(cls, db, field_names, values):
        user = super().from_db(db, field_names, values)
        user._loaded_active = user.__dict__.get("is_active")
        user._saved_password = user.__dict__.get("password")
        return user

    def save(self, *args, **kwargs):
        """A new password or a deactivation moves `token_generation` on in the same
        write; the post_save receiver (collab/accounts/signals.py) then ends the user's
        sessions and sockets once the change commits. Django's own rehash on login
        (check_password's setter clears `_password` first) keeps the same password and
        so ends nothing, and neither does a first password for an account that had none."""
        previous = getattr(self, "_saved_password", None)
        password_changed = self._password is not None and bool(previous) and is_password_usable(previous)
        deactivated = getattr(self, "_loaded_active", None) is True and not self.is_active
        self._sessions_revoked = not self._state.adding and (password_changed or deactivated)
        if self._sessions_revoked:
            self.token_generation += 1
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "token_generation"}
        super().save(*args, **kwargs)
        self._loaded_active, self._saved_password = self.is_active, self.password

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_instructor(self) -> bool:
        return self.role == Role.INSTRUCTOR

    @property
    def is_student(self) -> bool:
        return self.role == Role.STUDENT


class RevokedSession(models.Model):
    """A signed-in session (the `sid` claim of its tokens) ended by logout. Redis answers
    the hot path (collab/accounts/revocation.py); this row is what answers when Redis
    cannot, and what refills it. Rows are useless after `expires_at` (the longest a
    token of the session could live) and are pruned on write."""

    session_id = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    revoked_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"session {self.session_id} of {self.user_id}"
