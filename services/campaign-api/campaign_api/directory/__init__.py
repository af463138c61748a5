"""Teams, users, groups, memberships and tokens."""
