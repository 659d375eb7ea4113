"""``manage.py focus_staff <clerk id>...``: grant (or ``--revoke``) admin access to the
users linked to Focus accounts. ``--superuser`` grants every permission as well.

Focus never grants ``is_staff``: an account becomes staff here only by this command or
``FOCUS["staff"]``. An account not seen yet has no row; it is refused, so a typo cannot
leave a grant waiting for whoever signs up with that id.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_focus.users.models import FocusLink


class Command(BaseCommand):
    help = "Grant or revoke is_staff (and optionally is_superuser) for users linked to Focus accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("clerk_ids", nargs="+", metavar="clerk_id")
        parser.add_argument("--revoke", action="store_true", help="take the rights away instead")
        parser.add_argument("--superuser", action="store_true", help="is_superuser as well as is_staff")

    def handle(self, *args: Any, clerk_ids: list[str], revoke: bool, superuser: bool, **options: Any) -> None:
        links = {link.clerk_id: link for link in FocusLink.objects.select_related("user").filter(clerk_id__in=clerk_ids)}
        missing = [clerk_id for clerk_id in clerk_ids if clerk_id not in links]
        if missing:
            raise CommandError(f"no user is linked to {', '.join(missing)} (the account must sign in once first)")
        for clerk_id in clerk_ids:
            user = links[clerk_id].user
            fields = ["is_staff", "is_superuser"] if superuser or revoke else ["is_staff"]
            for name in fields:
                setattr(user, name, not revoke)
            user.save(update_fields=fields)
            self.stdout.write(f"{clerk_id}: {'revoked' if revoke else 'granted'} {' and '.join(fields)}")
