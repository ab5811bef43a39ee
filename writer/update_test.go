package writer_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/writer"
)

const profileSchema = `{"type":"record","name":"Profile","fields":[
	{"name":"name","type":"string","default":""},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]}
]}`

// TestUpdateTakesABuiltUpdate: Update encodes a partialupdate.Update in
// the update schema of the value schema it was derived from, and refuses
// one derived from another schema without writing anything.
func TestUpdateTakesABuiltUpdate(t *testing.T) {
	env := kafkatest.New(t)
	topic := env.Topic(t, 1, nil)
	sch, err := writer.NewStaticSchemas(`"string"`, profileSchema)
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, env, topic, writer.Schemas(sch))
	ctx := ctxT(t, time.Minute)
	derived, err := partialupdate.Derive(avro.MustParse(profileSchema))
	if err != nil {
		t.Fatal(err)
	}
	u, err := partialupdate.NewBuilder(derived).Set("name", "ada").AddToList("tags", "x").Build()
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Update(ctx, "user-1", u)
	if err != nil {
		t.Fatal(err)
	}

	other, _ := partialupdate.Derive(avro.MustParse(`{"type":"record","name":"Other","fields":[{"name":"name","type":"string","default":""}]}`))
	wrong, _ := partialupdate.NewBuilder(other).Set("name", "x").Build()
	var se *writer.SchemaError
	if _, err := w.Update(ctx, "user-1", wrong); !errors.As(err, &se) {
		t.Fatalf("update of another schema: %v, want *SchemaError", err)
	}
	if _, err := w.Update(ctx, "user-1", nil); !errors.As(err, &se) {
		t.Fatalf("nil update: %v, want *SchemaError", err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// Exactly one update reached the topic, and it decodes to what was built.
	cl := env.Client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	var updates int
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			e, err := wire.Decode(r.Value)
			if err != nil || e.Type != wire.TypeUpdate {
				return
			}
			updates++
			if r.Offset != res.Offset || e.Update.SchemaID != 1 || e.Update.UpdateSchemaID != 1001 {
				t.Fatalf("update at %d with schema %d/%d, want %d with 1/1001", r.Offset, e.Update.SchemaID, e.Update.UpdateSchemaID, res.Offset)
			}
			got, err := partialupdate.Decode(derived, e.Update.Update)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := got.JSON()
			b, _ := u.JSON()
			if !bytes.Equal(a, b) {
				t.Fatalf("decoded %s, built %s", a, b)
			}
		})
		if updates > 0 && fs.NumRecords() == 0 {
			break
		}
	}
	if updates != 1 {
		t.Fatalf("%d updates in the topic, want 1", updates)
	}
}
