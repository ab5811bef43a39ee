// Package conflictbench is the fixture of the conflict resolution benchmark,
// shared by the Go benchmark in package conflict and the bench program: the
// partial-update benchmark record (package putest) stored with field-level
// RMD, and an UPDATE touching 2 of its 10 fields.
package conflictbench

import (
	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/partialupdate/putest"
)

// Fixture is one stored state and one update, ready to resolve or apply.
type Fixture struct {
	Res    *conflict.Resolver
	State  conflict.State // the record with field-level RMD (written by a PUT at ts 1)
	Op     conflict.Op    // the update at ts 2, region 1, decoded
	Update *partialupdate.Update
	bytes  conflict.Op // the same update as bytes
	dst    []byte
}

// New builds the fixture.
func New() (*Fixture, error) {
	s := putest.Schema()
	reg := &conflict.StaticRegistry{Schemas: map[int32]avro.Schema{1: s.Value()}, Superset: 1}
	res, err := conflict.New(reg, conflict.FieldLevel)
	if err != nil {
		return nil, err
	}
	put, err := res.Resolve(conflict.State{}, conflict.Op{Kind: conflict.Put, Value: putest.Record(), SchemaID: 1, TS: 1, Region: 0})
	if err != nil {
		return nil, err
	}
	us, err := res.UpdateSchema(1)
	if err != nil {
		return nil, err
	}
	u, err := partialupdate.NewBuilder(us).Set("score", 99.5).AddToList("tags", "new-tag").Build()
	if err != nil {
		return nil, err
	}
	ub, err := u.Encode()
	if err != nil {
		return nil, err
	}
	return &Fixture{
		Res:    res,
		State:  conflict.State{Value: put.Value, SchemaID: put.SchemaID, RMD: put.RMD},
		Op:     conflict.Op{Kind: conflict.Update, Decoded: u, SchemaID: 1, TS: 2, Region: 1},
		Update: u,
		bytes:  conflict.Op{Kind: conflict.Update, Value: ub, SchemaID: 1, TS: 2, Region: 1},
		dst:    make([]byte, 0, 2048),
	}, nil
}

// Resolve resolves the decoded update against the stored state, writing
// the result into a reused buffer (as Apply does).
func (f *Fixture) Resolve() error {
	_, err := f.Res.ResolveAppend(f.dst[:0], f.State, f.Op)
	return err
}

// ResolveBytes resolves the update from its encoded bytes (decode included).
func (f *Fixture) ResolveBytes() error {
	_, err := f.Res.ResolveAppend(f.dst[:0], f.State, f.bytes)
	return err
}

// Apply is the baseline: partialupdate's Apply of the same decoded update
// to the same stored value, without RMD.
func (f *Fixture) Apply() error {
	var err error
	f.dst, err = partialupdate.Apply(f.dst[:0], f.Update, f.State.Value)
	return err
}
