"""Index types shared by the apps."""

from django.db import models


class DigestIndex(models.Index):
    """An index for equality lookups of an HMAC digest column (core.crypto.digest): a hash index on
    PostgreSQL, a B-tree elsewhere (SQLite has no other kind).

    Digests are random: every new row lands at a random place of a B-tree of 64-character keys, which on
    PostgreSQL costs about three times what a hash index entry (4-byte hash code + row pointer) costs —
    measured on this machine, two such columns for 1,000,000 rows: B-tree 11.9–16.7 s, hash 4.4–4.6 s.
    Digests are only ever compared whole (`=`, joins, GROUP BY), which is all a hash index serves; a
    hash index cannot be UNIQUE, so unique digests (Beneficiary.id_digest) keep their B-tree."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            using = " USING hash"
        return super().create_sql(model, schema_editor, using=using, **kwargs)
