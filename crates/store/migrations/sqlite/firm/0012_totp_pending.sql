-- A TOTP secret being enrolled waits here until its first code confirms it, so starting a
-- new enrolment never disturbs the authenticator in use.
ALTER TABLE users ADD COLUMN totp_pending_sealed BLOB;
