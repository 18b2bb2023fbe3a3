-- pgmig:up
-- nothing yet

-- pgmig:down
SELECT 1;
