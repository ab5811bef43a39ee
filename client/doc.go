// Package client is Rialto's Go read client. It reads a store's current
// version from the storage servers over their HTTP API, sending each key to
// a server that hosts the key's partition.
//
//	c, err := client.New([]string{"http://10.0.0.1:7071", "http://10.0.0.2:7071"})
//	if err != nil { … }
//	defer c.Close()
//	v, err := c.Get(ctx, "users", "user-42")          // string key schema
//	if v.Found { … v.SchemaID, v.Bytes (Avro binary) … }
//	vs, err := c.BatchGet(ctx, "users", []any{"a", "b"}) // results in request order
//
// Routing. The client polls GET /v1/status of every server it was given and
// builds a table (store → current version, partition count; partition →
// servers hosting it, ready replicas first). A key is serialized with the
// store's key schema (fetched once per version from GET
// /v1/stores/{store}/schema; DESIGN.md "Non-obvious" 1: raw bytes for
// "string" and "bytes" key schemas, Avro binary otherwise) and routed to
// partition murmur2(key) mod partitions — the partition the writer
// produced it to. When servers disagree on a store's current version during
// a swap, the highest version wins: a version only becomes current once
// every partition is ready to serve, so reading it early is safe.
//
// Guarantees.
//
//  1. A read names the version it was routed for, so one call never mixes
//     versions, and a BatchGet's results all come from that one version.
//  2. Results of BatchGet are in the order of the keys asked, one per key,
//     whatever servers answered them.
//  3. A failed replica (connection error, 5xx, 421 not hosted, 503 not
//     ready) is retried on the next replica of the same partition; when
//     every replica has failed, the routing table is refreshed once and the
//     read retried once. A request the server rejects as bad (400, 404 for
//     an unknown store, 413) is not retried and is returned as a
//     *ServerError with the server's one-line message.
//  4. Reads are nearline: a value written to a store is readable once the
//     serving replica has applied it (see the servers' processed upstream
//     offsets in /v1/status); there is no read-your-writes across replicas.
//  5. The routing table is refreshed every RefreshInterval in the
//     background and on demand after a failure; Close stops the refresher
//     and waits for it. A Client is safe for concurrent use.
package client
