-- 9: indexes for the audit log's filters (issue 11): `GET /v1/audit-events?event=` and
-- `?objectId=` searched every row of the tenant without them.

    CREATE INDEX audit_events_event ON audit_events (tenant, event, seq);
    CREATE INDEX audit_events_object ON audit_events (tenant, object_id, seq);
