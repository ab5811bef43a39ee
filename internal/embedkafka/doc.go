// Package embedkafka runs a Kafka-protocol broker inside the current process,
// for `rialto dev` and for tests. It wraps franz-go's kfake and adds what
// Rialto needs on top: loopback-only listeners on fixed or random ports, a
// data directory that survives restarts (and that only one process may use at
// a time), a restart on the same ports for fault tests, and logs into
// log/slog.
//
// A program looks like this:
//
//	b, err := embedkafka.Start(ctx,
//		embedkafka.DataDir(dir),     // omit to keep everything in memory
//		embedkafka.Ports(19092),     // omit for a random free port
//		embedkafka.Logger(logger),   // omit to discard the broker's logs
//	)
//	if err != nil { ... }
//	defer b.Close()
//	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
//
// # Guarantees
//
//  1. Every listener binds 127.0.0.1 only; nothing is reachable from another
//     host.
//  2. Options are validated once, in Start, and every problem is reported in
//     one error wrapping ErrInvalidOption. A Start that fails leaves nothing
//     running and releases the data directory.
//  3. When Start returns, every listener is bound: a client dialing Addrs
//     connects (requests queue until the broker's loop serves them, which it
//     does immediately).
//  4. With a data directory, Close and Restart write the broker's whole state
//     to it (topics, records, consumer group offsets, producer ids, configs,
//     SCRAM users) and the next Start or Restart on that directory loads it:
//     every record acknowledged before Close is readable at the same offset.
//     Records are written to the OS page cache as they arrive and synced on
//     segment roll and on Close, like Kafka's defaults; a process killed
//     without Close may lose the last ones unless SyncWrites is given.
//  5. A data directory is locked for as long as a Broker has it open
//     (including across Restart); a second Broker, in this process or
//     another, fails with ErrDataDirInUse instead of corrupting it.
//  6. Restart closes the cluster (dropping every client connection) and opens
//     a new one on the same addresses and data directory. Addrs is unchanged;
//     franz-go clients reconnect on their own. Without a data directory the
//     new cluster starts empty, like a broker whose disk was wiped.
//  7. Close is safe to call twice and from several goroutines; after it
//     returns the listeners are closed and, with a data directory, the state
//     is on disk. kfake's per-connection goroutines notice the close and exit
//     on their own shortly after.
//
// # Things that bite
//
//   - kfake compacts compacted topics and applies retention on a timer whose
//     period is the broker config log.cleaner.backoff.ms (kfake's default is
//     one hour). Compaction moves a partition's log-start offset, so a test
//     that consumes from offset 0 of a compacted topic can find it gone. A
//     value of 0 makes kfake panic (a zero ticker); Start rejects it. Prefer
//     calling Cluster().Compact() where a test wants compaction to happen.
//   - Cluster returns the current *kfake.Cluster, which Restart replaces:
//     fetch it again after a Restart. Faults installed with Fault do not
//     survive a Restart.
//   - Node ids are 0..n-1 after a Restart even if nodes were added or
//     removed with the cluster's AddNode/RemoveNode; the addresses are those
//     the cluster was listening on when Restart began.
package embedkafka
