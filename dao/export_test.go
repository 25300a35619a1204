package dao

// SetCatalogueLimit lowers the catalogue's bound for a test (restored at its end).
func SetCatalogueLimit(cleanup func(func()), n int) {
	old := catalogueLimit
	catalogueLimit = n
	cleanup(func() { catalogueLimit = old })
}
