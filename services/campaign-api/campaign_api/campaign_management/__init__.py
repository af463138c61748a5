"""Campaign management: duplicate, archive, unarchive and delete."""
