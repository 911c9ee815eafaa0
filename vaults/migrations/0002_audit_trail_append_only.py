"""The audit trail is append-only at the database level: UPDATE, DELETE and TRUNCATE fail for
every client, not only for Django code."""
from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION audit_trail_reject_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_trail is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_trail_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_trail
    FOR EACH ROW EXECUTE FUNCTION audit_trail_reject_change();

CREATE TRIGGER audit_trail_no_truncate
    BEFORE TRUNCATE ON audit_trail
    FOR EACH STATEMENT EXECUTE FUNCTION audit_trail_reject_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_trail_no_truncate ON audit_trail;
DROP TRIGGER IF EXISTS audit_trail_no_update_delete ON audit_trail;
DROP FUNCTION IF EXISTS audit_trail_reject_change();
"""


class Migration(migrations.Migration):
    dependencies = [("vaults", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
