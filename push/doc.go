// Package push is Rialto's push job as a library: it loads a batch of
// records — JSON lines or an Avro object container file — into a store,
// either as a new version (a full push) or through the store's real-time
// topic into every live version (an incremental push).
//
// A full push through the controller:
//
//	in, err := push.OpenFile("members.jsonl")
//	if err != nil { ... }
//	defer in.Close()
//	res, err := push.Full(ctx, client.New(url), "members", in.Input,
//		push.OnProgress(func(p push.Progress) { ... }))
//	if err != nil { ... } // the version was killed; nothing became current
//	err = push.Wait(ctx, ctl, "members", res.Version, time.Second, nil)
//
// Write pushes into a topic given directly (a pre-created version topic or
// an RT topic), without a controller; Full and Incremental are built on it.
// NewReader validates an input without writing anything.
//
// # Input
//
// JSONL: one object per line, {"key": K, "value": {…}} with an optional
// "timestamp": MS; keys and values in the plain JSON form of package avrox.
// Avro: records with fields key, value and optionally timestamp, resolved
// from the file's schemas to the store's. See FormatJSONL and FormatAvro.
//
// # Guarantees
//
//  1. Validation. Every record is checked against the store's key and
//     value schemas before it is written; the first bad one stops the push
//     with a *RecordError naming the input, the line (JSONL) or record
//     index (Avro), and the field.
//  2. All or nothing. A full push writes end-of-push into every partition
//     only after every record was acknowledged by Kafka, and tells the
//     controller only after that. On a bad record, a failed write, or a
//     cancelled context it writes no end-of-push and kills the version
//     through the controller (even when the context has ended), so a
//     version holding part of an input never becomes current. A bad record
//     among the dictionary samples of a zstd-dict push fails before the
//     version is created.
//  3. Order. Records are written in input order; records of one key keep
//     their order (one key, one partition), so the last one wins.
//  4. Timestamps. A record's timestamp becomes its logical timestamp
//     (writer.WithTimestamp), so nearline writes replayed after the push
//     are ordered against the batch data by the time the data is about,
//     not by when the push ran.
//  5. Compression. A zstd-dict push trains a dictionary on the input's
//     first DictionarySamples records (held in memory meanwhile), hands it
//     to the controller in the start-push request and to the writer, whose
//     start-of-push carries it to the servers. Other modes compress as the
//     version says. Incremental pushes go through the RT topic, which is
//     never compressed.
//  6. Incremental pushes write start-of-incremental-push, the records and
//     end-of-incremental-push with one push id into the RT topic; the
//     leaders of every live version apply them. A failed incremental push
//     leaves no end-of-incremental-push, but the records written before
//     the failure are ordinary nearline writes and stay applied.
//
// # Cost
//
// A push is bounded by parsing: JSONL and Avro records are converted to
// Avro bytes one at a time on the calling goroutine, and the writer
// compresses on that goroutine too (zstd with a dictionary ~7.5 µs a record,
// LIMITS.md). Training a dictionary on the default 2 000 samples took
// ~1.1 s on the project machine (under -race); the feature-like dataset of
// push_test.go then stored 0.34× its uncompressed value bytes.
package push
