package partialupdate

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// mapOf returns map<Elem> for a map field (cached per field would save an
// allocation; building updates is not a hot path).
func mapOf(fi *Field) avro.Schema {
	return avro.NewMapSchema(fi.Elem)
}

func atKey(key string, err error) error {
	return fmt.Errorf("key %q: %w", key, err)
}

var stringSchema = avro.NewPrimitiveSchema(avro.String, nil)
