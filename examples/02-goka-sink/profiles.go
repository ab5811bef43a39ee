package main

import (
	"encoding/json"
	"fmt"

	"github.com/hamba/avro/v2"
	"github.com/lovoo/goka"

	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/sink"
)

// Click is one message of the click stream (JSON), keyed by user.
type Click struct {
	User string `json:"user"`
	Item string `json:"item"`
}

// Profile is the processor's state per user in its goka table (JSON).
type Profile struct {
	Clicks int64 `json:"clicks"`
	// LastOffset is the input offset of the user's latest click counted
	// (all of a user's clicks are in one partition).
	LastOffset int64 `json:"lastOffset"`
}

// Profiles is the processor's logic: each click increments the user's
// counter in the goka table, sets it as the store field "clicks" and adds
// the item to the store's list "recent" (a set union: an item is listed
// once, in order of first click).
//
// Replays are idempotent. goka writes the table (its changelog) and
// commits the input separately, so after a crash a click may be read again
// with the table already past it (offset ≤ LastOffset). Such a click is not
// counted twice; its update is sent again with the current counter, in case
// its first write never landed. Its item add is the same operation with the
// same logical timestamp (package sink derives it from the click), and its
// counter set is overwritten by the set of the user's last click, which is
// replayed too (it comes later in the partition) and carries exactly the
// counter of the clean run at the highest timestamp of the user's clicks.
// So the store ends in the state of one clean run.
type Profiles struct {
	schema *partialupdate.Schema
	sink   *sink.Sink
}

// NewProfiles checks that the store's value schema has the fields the
// processor writes: "clicks" (long) and "recent" (array of strings).
func NewProfiles(valueSchema avro.Schema, s *sink.Sink) (*Profiles, error) {
	ps, err := partialupdate.Derive(valueSchema)
	if err != nil {
		return nil, err
	}
	if f := ps.Field("clicks"); f == nil {
		return nil, fmt.Errorf("store value schema has no field \"clicks\"")
	}
	if f := ps.Field("recent"); f == nil || f.Kind != partialupdate.List {
		return nil, fmt.Errorf("store value schema has no list field \"recent\"")
	}
	return &Profiles{schema: ps, sink: s}, nil
}

// Graph is the goka group: the click stream in, the profile table persisted.
func (p *Profiles) Graph(group goka.Group, input goka.Stream) *goka.GroupGraph {
	return goka.DefineGroup(group,
		goka.Input(input, jsonCodec[Click]{}, p.click),
		goka.Persist(jsonCodec[Profile]{}),
	)
}

func (p *Profiles) click(ctx goka.Context, msg any) {
	c := msg.(Click)
	prof := Profile{LastOffset: -1}
	if v := ctx.Value(); v != nil {
		prof = v.(Profile)
	}
	if off := ctx.Offset(); off > prof.LastOffset {
		prof.Clicks++
		prof.LastOffset = off
		ctx.SetValue(prof)
	}
	u, err := partialupdate.NewBuilder(p.schema).Set("clicks", prof.Clicks).AddToList("recent", c.Item).Build()
	if err != nil {
		ctx.Fail(err)
	}
	p.sink.Update(ctx, ctx.Key(), u)
}

// jsonCodec is a goka codec of T as JSON.
type jsonCodec[T any] struct{}

func (jsonCodec[T]) Encode(v any) ([]byte, error) { return json.Marshal(v) }

func (jsonCodec[T]) Decode(b []byte) (any, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}
