package dao

import "github.com/orderprocessor/orderprocessor/store"

// StoreOf returns the store d reads and writes.
func StoreOf(d *DAOs) store.Store { return d.s }

// SetCatalogueLimit lowers the catalogue's bound for a test (restored at its end).
func SetCatalogueLimit(cleanup func(func()), n int) {
	old := catalogueLimit
	catalogueLimit = n
	cleanup(func() { catalogueLimit = old })
}
