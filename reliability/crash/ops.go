package crash

import (
	"context"

	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/writer"
)

// buildUpdate turns a generated update into the writer's form. Whole
// collections are set from this package's own encoding, so the order of
// map entries is the generator's.
func buildUpdate(s *partialupdate.Schema, u *update) (*partialupdate.Update, error) {
	b := partialupdate.NewBuilder(s)
	if u.name != nil {
		b.Set("name", *u.name)
	}
	if u.count != nil {
		b.Set("count", *u.count)
	}
	if u.setNick {
		if u.nick == nil {
			b.SetNull("nick")
		} else {
			b.Set("nick", *u.nick)
		}
	}
	if u.setTags {
		b.SetEncoded("tags", encodeTags(u.tags))
	}
	if u.mergeTag {
		if len(u.addTags) > 0 {
			b.AddToList("tags", strs(u.addTags)...)
		}
		if len(u.remTags) > 0 {
			b.RemoveFromList("tags", strs(u.remTags)...)
		}
	}
	if u.setAttrs {
		b.SetEncoded("attrs", encodeAttrs(u.attrs))
	}
	if u.mergeMap {
		for _, e := range u.putAttrs {
			b.PutEntry("attrs", e.k, e.v)
		}
		if len(u.remAttrs) > 0 {
			b.RemoveKeys("attrs", u.remAttrs...)
		}
	}
	return b.Build()
}

func strs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// send writes o with w, asynchronously; cb gets the outcome.
func send(ctx context.Context, w *writer.Writer, s *partialupdate.Schema, o op, cb func(writer.Result, error)) error {
	key := KeyName(o.key)
	at := writer.WithTimestamp(o.ts)
	switch o.kind {
	case opPut:
		return w.PutBytesAsync(ctx, []byte(key), 1, encodeRow(o.put), cb, at)
	case opDelete:
		return w.DeleteAsync(ctx, key, cb, at)
	default:
		u, err := buildUpdate(s, o.upd)
		if err != nil {
			return err
		}
		return w.UpdateAsync(ctx, key, u, cb, at)
	}
}
