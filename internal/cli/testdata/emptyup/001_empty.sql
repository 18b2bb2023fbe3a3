-- pgmig:up

-- pgmig:down
