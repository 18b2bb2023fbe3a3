DROP INDEX orders_user;
