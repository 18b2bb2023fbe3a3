CREATE FUNCTION fw_search(q text) RETURNS SETOF fw_products
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT * FROM fw_products WHERE name ILIKE '%' || q || '%';
END;
$$;
