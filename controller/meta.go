package controller

import (
	"fmt"
	"sort"

	"github.com/hashicorp/go-memdb"

	"github.com/rialtodb/rialto/controller/api"
)

// The metadata lives in go-memdb: one table of stores (without their
// versions) and one of versions, indexed by store and by status so that
// the monitor finds pushes in flight without scanning every store.
const (
	tableStores   = "stores"
	tableVersions = "versions"
)

// storeRow is a store without its versions.
type storeRow struct {
	api.Store
}

// versionRow is one version of one store.
type versionRow struct {
	Store string
	api.Version
}

var metaSchema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	tableStores: {
		Name: tableStores,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
		},
	},
	tableVersions: {
		Name: tableVersions,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				&memdb.StringFieldIndex{Field: "Store"},
				&memdb.IntFieldIndex{Field: "Number"},
			}}},
			"store":  {Name: "store", Indexer: &memdb.StringFieldIndex{Field: "Store"}},
			"status": {Name: "status", Indexer: &memdb.StringFieldIndex{Field: "Status"}},
		},
	},
}}

func newMetaDB() *memdb.MemDB {
	db, err := memdb.NewMemDB(metaSchema)
	if err != nil {
		panic(fmt.Sprintf("controller: metadata schema: %v", err)) // a programming error
	}
	return db
}

// putStore replaces a store and all its versions in one transaction.
func putStore(txn *memdb.Txn, s api.Store) error {
	if err := deleteStore(txn, s.Name); err != nil {
		return err
	}
	row := storeRow{Store: s}
	row.Versions = nil
	if err := txn.Insert(tableStores, &row); err != nil {
		return err
	}
	for _, v := range s.Versions {
		if err := txn.Insert(tableVersions, &versionRow{Store: s.Name, Version: v}); err != nil {
			return err
		}
	}
	return nil
}

func deleteStore(txn *memdb.Txn, name string) error {
	if _, err := txn.DeleteAll(tableVersions, "store", name); err != nil {
		return err
	}
	if _, err := txn.DeleteAll(tableStores, "id", name); err != nil {
		return err
	}
	return nil
}

// getStore assembles a store with its versions (ascending), or false.
func getStore(txn *memdb.Txn, name string) (api.Store, bool, error) {
	raw, err := txn.First(tableStores, "id", name)
	if err != nil || raw == nil {
		return api.Store{}, false, err
	}
	s := raw.(*storeRow).Store
	s.ValueSchemas = append([]api.Schema(nil), s.ValueSchemas...)
	it, err := txn.Get(tableVersions, "store", name)
	if err != nil {
		return api.Store{}, false, err
	}
	s.Versions = nil
	for obj := it.Next(); obj != nil; obj = it.Next() {
		s.Versions = append(s.Versions, obj.(*versionRow).Version)
	}
	sort.Slice(s.Versions, func(i, j int) bool { return s.Versions[i].Number < s.Versions[j].Number })
	return s, true, nil
}

// listStores returns every store, by name.
func listStores(txn *memdb.Txn) ([]api.Store, error) {
	it, err := txn.Get(tableStores, "id")
	if err != nil {
		return nil, err
	}
	var names []string
	for obj := it.Next(); obj != nil; obj = it.Next() {
		names = append(names, obj.(*storeRow).Name)
	}
	out := make([]api.Store, 0, len(names))
	for _, n := range names {
		s, _, err := getStore(txn, n)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// storesWithStatus lists the stores that have a version in status.
func storesWithStatus(txn *memdb.Txn, status string) ([]string, error) {
	it, err := txn.Get(tableVersions, "status", status)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if n := obj.(*versionRow).Store; !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}
