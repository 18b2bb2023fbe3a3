package migrations

// Not a migration: goose names its Go migrations NNN_name.go.
func quote(s string) string { return `"` + s + `"` }
