DROP FUNCTION fw_search(text);
