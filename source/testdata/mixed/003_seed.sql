INSERT INTO orders (note) VALUES ($$first; order$$);
