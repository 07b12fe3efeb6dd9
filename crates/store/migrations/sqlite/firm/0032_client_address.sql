-- A client's postal or street address, kept and shown like its email address and phone
-- number: to those the client access check allows, removed by an erasure.
ALTER TABLE clients ADD COLUMN address TEXT;
