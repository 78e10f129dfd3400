"""Tenants, membership, the synced tables, the change sequence, row-level security.

Revision ID: 0001
Revises:
Create Date: 2026-12-01

Everything is spelled out here rather than imported: a migration must keep
building the same schema whatever later code calls things. The schema itself
(``atom_sync``) is made by the migrator before alembic runs, because alembic's
version table lives in it. The module docstring of
``atom_desktop/sync/server/schema.py`` says why the tables have this shape.
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The first half of every per-tenant lock key: "atom" in ASCII, so our
# advisory locks stay apart from other programs' on the same database.
_LOCK_SPACE = 0x61746F6D

_SETUP = """
-- Cluster-wide, and so shared by every database set up for sync on this server:
-- it only carries grants, and a role's tenant comes from this database's members.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'atom_sync_device') THEN
        CREATE ROLE atom_sync_device NOLOGIN;
    END IF;
END
$$;

REVOKE ALL ON SCHEMA atom_sync FROM PUBLIC;
GRANT USAGE ON SCHEMA atom_sync TO atom_sync_device;
GRANT SELECT ON atom_sync.atom_sync_version TO atom_sync_device;

-- One sequence for every synced table: a pull's cursor is one number.
CREATE SEQUENCE atom_sync.change_id_seq AS bigint;
GRANT USAGE ON SEQUENCE atom_sync.change_id_seq TO atom_sync_device;

CREATE TABLE atom_sync.tenants (
    id text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    name text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A login role belongs to one tenant: its writes need not name one.
CREATE TABLE atom_sync.tenant_members (
    role_name text PRIMARY KEY CHECK (char_length(role_name) BETWEEN 1 AND 63),
    tenant_id text NOT NULL REFERENCES atom_sync.tenants (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_members_tenant_ix ON atom_sync.tenant_members (tenant_id);

-- A role sees its own membership only; the policies of the synced tables read
-- it through current_tenant() with the caller's rights, so no function needs
-- SECURITY DEFINER. The owner (the administrator) is not bound by these two.
ALTER TABLE atom_sync.tenant_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_membership ON atom_sync.tenant_members
    FOR SELECT TO atom_sync_device USING (role_name = current_user);
GRANT SELECT ON atom_sync.tenant_members TO atom_sync_device;

CREATE FUNCTION atom_sync.current_tenant() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT tenant_id FROM atom_sync.tenant_members WHERE role_name = current_user $$;
REVOKE ALL ON FUNCTION atom_sync.current_tenant() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION atom_sync.current_tenant() TO atom_sync_device;

ALTER TABLE atom_sync.tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON atom_sync.tenants
    FOR SELECT TO atom_sync_device USING (id = (SELECT atom_sync.current_tenant()));
GRANT SELECT ON atom_sync.tenants TO atom_sync_device;

-- The channel a device LISTENs on: its tenant's.
CREATE FUNCTION atom_sync.notify_channel() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT 'atom_sync_' || atom_sync.current_tenant() $$;
REVOKE ALL ON FUNCTION atom_sync.notify_channel() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION atom_sync.notify_channel() TO atom_sync_device;

-- Before each insert and update of a synced row: the server, not the client,
-- says when it changed.
CREATE FUNCTION atom_sync.stamp_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    mine text := atom_sync.current_tenant();
BEGIN
    -- A device writes its own tenant's rows; said here, before any lock is
    -- taken, and the policies hold it again whatever this says.
    IF mine IS NOT NULL AND NEW.tenant_id IS DISTINCT FROM mine THEN
        RAISE EXCEPTION 'atom_sync: a row of another tenant cannot be written'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.tenant_id IS DISTINCT FROM OLD.tenant_id
                             OR NEW.id IS DISTINCT FROM OLD.id) THEN
        RAISE EXCEPTION 'atom_sync: a synced row keeps its tenant and id'
            USING ERRCODE = 'check_violation';
    END IF;
    -- Held to the end of the transaction: one tenant's writers take turns, so
    -- its change_ids commit in order and a puller's cursor never skips one
    -- that was still uncommitted when it read.
    PERFORM pg_advisory_xact_lock(%(lock_space)d, hashtext(NEW.tenant_id));
    NEW.change_id := nextval('atom_sync.change_id_seq');
    NEW.changed_at := now();
    IF NEW.deleted THEN
        -- A tombstone keeps no content on the shared server (a no-op for
        -- tables without a data column).
        NEW := jsonb_populate_record(NEW, '{"data": {}}'::jsonb);
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION atom_sync.stamp_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION atom_sync.stamp_change() TO atom_sync_device;

-- After each statement: one notification per tenant it touched, carrying the
-- highest change_id (delivered at commit; nothing of the rows themselves).
CREATE FUNCTION atom_sync.notify_changes() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed_tenant record;
BEGIN
    FOR changed_tenant IN
        SELECT tenant_id, max(change_id) AS change_id FROM changed_rows GROUP BY tenant_id
    LOOP
        PERFORM pg_notify(
            'atom_sync_' || changed_tenant.tenant_id,
            json_build_object('table', TG_TABLE_NAME, 'change_id', changed_tenant.change_id)::text
        );
    END LOOP;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION atom_sync.notify_changes() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION atom_sync.notify_changes() TO atom_sync_device;
"""

# The columns every synced table has, before and after its own.
_KEY_COLUMNS = """
    tenant_id text NOT NULL DEFAULT atom_sync.current_tenant()
        REFERENCES atom_sync.tenants (id) ON DELETE CASCADE,
    id text NOT NULL CHECK (char_length(id) BETWEEN 1 AND 64),
"""
_SYNC_COLUMNS = """
    hlc bigint NOT NULL CHECK (hlc >= 0),
    device_id text NOT NULL CHECK (char_length(device_id) BETWEEN 1 AND 64),
    deleted boolean NOT NULL DEFAULT false,
    change_id bigint NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
"""
_PAYLOAD = "    data jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),\n"
_RUN_SUMMARY = """
    command text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT '',
    exit_code integer,
    started_at timestamptz,
    ended_at timestamptz,
"""
_TABLES = {"tasks": _PAYLOAD, "automations": _PAYLOAD, "run_summaries": _RUN_SUMMARY}

_SYNCED_TABLE = """
CREATE TABLE atom_sync.{name} ({key}{own}{sync});
CREATE INDEX {name}_pull_ix ON atom_sync.{name} (tenant_id, change_id);
CREATE TRIGGER stamp_change BEFORE INSERT OR UPDATE ON atom_sync.{name}
    FOR EACH ROW EXECUTE FUNCTION atom_sync.stamp_change();
-- Transition tables take one event per trigger, hence two.
CREATE TRIGGER notify_inserted AFTER INSERT ON atom_sync.{name}
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION atom_sync.notify_changes();
CREATE TRIGGER notify_updated AFTER UPDATE ON atom_sync.{name}
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION atom_sync.notify_changes();
-- Forced: the table's owner is held to the policy too.
ALTER TABLE atom_sync.{name} ENABLE ROW LEVEL SECURITY;
ALTER TABLE atom_sync.{name} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON atom_sync.{name} FOR ALL TO atom_sync_device
    USING (tenant_id = (SELECT atom_sync.current_tenant()))
    WITH CHECK (tenant_id = (SELECT atom_sync.current_tenant()));
-- No DELETE: a device deletes by writing a tombstone, which every device pulls.
GRANT SELECT, INSERT, UPDATE ON atom_sync.{name} TO atom_sync_device;
"""

_AUTOMATIONS_COMMENT = """
COMMENT ON COLUMN atom_sync.automations.data IS
    'name, enabled and spec of the automation; never secrets (the push leaves them out)';
COMMENT ON TABLE atom_sync.run_summaries IS
    'what ran on each device, pushed one way; never any output';
"""


def upgrade() -> None:
    """Build revision 0001 (the schema ``atom_sync`` exists already)."""
    op.execute(_SETUP % {"lock_space": _LOCK_SPACE})
    for name, own in _TABLES.items():
        op.execute(_SYNCED_TABLE.format(name=name, key=_KEY_COLUMNS, own=own, sync=_SYNC_COLUMNS))
    op.execute(_AUTOMATIONS_COMMENT)


def downgrade() -> None:
    """Remove what revision 0001 made; the group role stays (other databases may use it)."""
    op.execute(
        """
        DROP TABLE atom_sync.run_summaries, atom_sync.automations, atom_sync.tasks,
            atom_sync.tenant_members, atom_sync.tenants;
        DROP FUNCTION atom_sync.notify_changes(), atom_sync.stamp_change(),
            atom_sync.notify_channel(), atom_sync.current_tenant();
        DROP SEQUENCE atom_sync.change_id_seq;
        """
    )
