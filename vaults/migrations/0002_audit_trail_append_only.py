"""The audit trail is append-only at the database level: UPDATE and DELETE of a row fail for
every client, not only for Django code. (TRUNCATE is a table-owner privilege: production revokes
it from the application role; the test suite needs it to reset tables between tests.)"""
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
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_trail_no_update_delete ON audit_trail;
DROP FUNCTION IF EXISTS audit_trail_reject_change();
"""


class Migration(migrations.Migration):
    dependencies = [("vaults", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
