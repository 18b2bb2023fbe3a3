-- Each migration fails if run twice (CREATE TABLE without IF NOT EXISTS)
-- and bumps the counter, so the test sees how often each one ran.
CREATE TABLE counter (n int NOT NULL);
INSERT INTO counter VALUES (1);
