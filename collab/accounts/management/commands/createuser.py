from django.core.management.base import BaseCommand, CommandError

from collab.accounts.models import Role
from collab.accounts.services import user_create
from collab.core.errors import DomainError


class Command(BaseCommand):
    help = "Create a user with a role (how staff make instructors and admins)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--role", choices=Role.values, default=Role.STUDENT)

    def handle(self, *args, email, password, name, role, **options):
        try:
            user = user_create(email=email, password=password, name=name, role=role)
        except DomainError as exc:
            detail = f" {exc.fields}" if exc.fields else ""
            raise CommandError(f"{exc.message}{detail}")
        self.stdout.write(self.style.SUCCESS(f"Created {user.role} {user.email} ({user.id})"))
