from django.core.management.base import BaseCommand, CommandError

from collab.accounts.models import Role
from collab.accounts.serializers import RegisterSerializer
from collab.accounts.services import user_create
from collab.core.errors import DomainError, error_fields


def _refusal(message: str, fields: dict | None) -> str:
    """`message`, then each refused field with its messages on a line of its own."""
    lines = [message]
    for field, messages in (fields or {}).items():
        lines.append(f"  {field}: {' '.join(messages) if isinstance(messages, list) else messages}")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Create a user with a role (how staff make instructors and admins)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--role", choices=Role.values, default=Role.STUDENT)

    def handle(self, *args, email, password, name, role, **options):
        # The rules of registration (a real email address, the free-text rule for the
        # name), so an account made here is one the API would have accepted.
        given = RegisterSerializer(data={"email": email, "password": password, "name": name})
        if not given.is_valid():
            raise CommandError(_refusal("Not created:", error_fields(given.errors)))
        try:
            user = user_create(role=role, **given.validated_data)
        except DomainError as exc:
            raise CommandError(_refusal(exc.message, exc.fields))
        self.stdout.write(self.style.SUCCESS(f"Created {user.role} {user.email} ({user.id})"))
