// Package sink writes to Rialto stores from stream processors: this package
// is the goka sink and what both sinks share (logical timestamps, error
// classes, dead letters); package sink/connect is the Kafka Connect–style
// sink runtime behind `rialto sink --config FILE`.
//
// # Shape of a goka program
//
//	w, _ := writer.New(writer.Brokers(b...), writer.Topic(store.RTTopic),
//		writer.Schemas(ctl.SchemaProvider("profiles")))
//	s, _ := sink.New(sink.WriterOf(w))
//	g := goka.DefineGroup("profiles",
//		goka.Input("clicks", new(codec.String), func(ctx goka.Context, msg any) {
//			u, _ := partialupdate.NewBuilder(schema).
//				Set("clicks", n).AddToList("recent", item).Build()
//			s.Update(ctx, ctx.Key(), u)
//		}))
//	p, _ := goka.NewProcessor(brokers, g)
//	err := p.Run(ctx)
//	s.Close(ctx); w.Close(ctx)
//
// In unit tests give sink.New a *Recorder instead of the writer and run the
// processor under goka's tester: no Kafka is needed.
//
// # Guarantees (goka sink)
//
//  1. At least once. Every operation calls goka's ctx.DeferCommit; the
//     commit is called only when the writer acknowledged the operation and
//     every earlier operation of the same input partition, so goka never
//     marks an offset past an unacknowledged write. A crash replays from
//     the last committed offset.
//  2. Idempotent replays. Each operation carries a logical timestamp
//     derived from its input record (below), so replaying the same input
//     writes the same operations with the same timestamps, and Rialto's
//     resolution (SEMANTICS.md) reaches the same state.
//  3. Failures. A retriable write error (Kafka's retriable errors,
//     timeouts) is retried with exponential back-off from 100 ms up to
//     RetryDelayMax for RetryTimeout. A data error (the value does not
//     match the schema, no key, too large) goes to the DeadLetterQueue if
//     one is configured, and the offset is committed once the letter is
//     durable; otherwise, and for every other error, the operation's
//     deferred commit gets the error, which is goka's way of failing the
//     processor: Run returns it, naming the record (*RecordError). Commits
//     of later records of that partition get ErrEarlierFailed, so nothing
//     after the failure is committed.
//
// # Logical timestamps
//
// Both sinks stamp each write of an input record r (partition p, offset o,
// key k) with
//
//	e(r) = max(ts(r), e(previous record of p))    ts: r's timestamp in ms (none: 0)
//	T(r) = max(e(r), T(previous record of p with key k) + 1)
//
// T is a valid millisecond timestamp: it equals the record's own timestamp
// unless the partition's timestamps went backwards (e, a watermark, never
// does) or the same key already had a write at that millisecond, when it
// is one past that write's. So later offsets of a key are always later
// (strictly), and no write is stamped below an earlier record's time. T
// drifts ahead of the record time only for a key written more than once a
// millisecond, by at most the length of that burst.
//
// T depends on earlier records of the partition, so a consumer restarting
// at offset c must be able to recompute it without them. It can when c is
// a clean point: ts(c) is larger than every T handed out before c. Then
// no earlier key can clamp a later record and the watermark restarts at
// ts(c), so a fresh Clock from c stamps every record exactly as the
// uninterrupted run did (Clock.Stamp reports clean points). The Connect
// sink commits only clean points (plus the records before them), which
// makes a restart after a crash or a rebalance reach the state of one clean
// run, byte for byte. In practice every millisecond boundary of a partition
// is a clean point.
//
// The goka sink cannot choose where goka commits (goka's tester also waits
// for every commit), so after a restart a record of a key written twice in
// the same millisecond right at the restart offset can get the
// millisecond itself instead of one past it; the tie then resolves by
// value (SEMANTICS.md §4–5), deterministically but maybe not as the
// uninterrupted run did. Every other record is stamped identically.
package sink
